"""A folder a command owns: it writes only there, lists every file and folder it makes, and deletes only those.

A command that writes many files into one folder (``dreamengine atlas``,
``study``) opens it as an :class:`OwnedFolder`. The folder must be missing,
empty, or one the same command made: it keeps a list of what it wrote,
:data:`LIST_NAME`, whose first line names the command. Before a file is
written, its path goes on the list (so a write cut short is still known), and
after, its SHA-256. A path where a file stands that is not on the list is
refused, and so is one whose file has changed since the command wrote it (a
user's page put in its place): a user's file is never overwritten.
:meth:`OwnedFolder.remove_written` deletes what the list names, as it was
written, and nothing else: a user's own files in the folder, and any folder
holding them, stay.

Opening checks and writes nothing: the folder and its list are made with the
first file, after every other check of the command has passed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from dreamengine.errors import DreamError
from dreamengine.run.imaging import write_atomic

__all__ = ["LIST_NAME", "OwnedFolder", "check_apart"]

#: The file in an owned folder that lists what the command wrote there, one path a line (a folder ends in ``/``).
LIST_NAME = ".dreamengine-written"
#: How many of a folder's entries a refusal names.
_SHOWN = 3


class OwnedFolder:
    """``root``, written by ``command`` (e.g. ``"atlas"``) and only where :meth:`claim` allows."""

    def __init__(self, root: str | Path, command: str) -> None:
        self.root, self.command = Path(root), command
        self._written: dict[str, str | None] | None = None

    def __repr__(self) -> str:
        return f"OwnedFolder({str(self.root)!r}, {self.command!r})"

    @property
    def list_path(self) -> Path:
        return self.root / LIST_NAME

    def check(self, *, marker: str | None = None, remade: Callable[[str], bool] = lambda relative: False) -> bool:
        """Whether the folder holds this command's earlier work; refuse, in one line, a folder that is not a
        folder, that holds anything else, or where a file the command wrote was changed since (unless ``remade``
        says the command checks that file itself and makes it again). ``marker`` names a file that only the command
        writes (``atlas.json``): a folder holding it without a list is an earlier release's, which did not list its
        files."""
        if not self.root.exists():
            if self.root.is_symlink():
                raise DreamError(f"{str(self.root)!r} is a link to nothing: give an existing folder or a new name.")
            return False
        if not self.root.is_dir():
            raise DreamError(f"{str(self.root)!r} is a file, not a folder: give a folder's name.")
        if self.list_path.is_file():
            first = self.list_path.read_text(encoding="utf-8", errors="replace").partition("\n")[0]
            if first != self._heading():
                raise DreamError(
                    f"{str(self.root)!r} was written by another command ({first.lstrip('# ') or 'unknown'}): "
                    f"give dreamengine {self.command} a folder of its own."
                )
            linked = sorted(r for r in self.written() if r.endswith("/") and (self.root / r.rstrip("/")).is_symlink())
            if linked:
                raise DreamError(
                    f"{str(self.root)!r} holds {_some(linked)}, a folder dreamengine {self.command} made, now a link: "
                    f"it writes only inside {str(self.root)!r}, never through a link out of it; nothing was written."
                )
            changed = sorted(r for r in self.written() if not remade(r) and not self._as_written(r))
            if changed:
                raise DreamError(
                    f"{str(self.root)!r} holds {_some(changed)}, changed since dreamengine {self.command} wrote "
                    f"{(them := 'it' if len(changed) == 1 else 'them')}: move {them} away to have {them} made again, "
                    "or give another folder; nothing was written."
                )
            return True
        entries = sorted(entry.name for entry in self.root.iterdir())
        if not entries:
            return False
        if marker is not None and marker in entries:
            raise DreamError(
                f"{str(self.root)!r} holds a {self.command} made by an earlier dreamengine, which did not list the "
                "files it wrote: give a new folder (nothing in this one is changed)."
            )
        raise DreamError(
            f"{str(self.root)!r} is not empty and was not written by dreamengine {self.command} (it holds "
            f"{_some(entries)}): "
            "give an empty or new folder; nothing was written."
        )

    def written(self) -> dict[str, str | None]:
        """The paths this command wrote, relative to the folder with ``/`` (folders end in ``/``), each with the
        SHA-256 of what it last wrote there (``None`` for a folder, or a write not known to have ended)."""
        if self._written is None:
            try:
                lines = self.list_path.read_text(encoding="utf-8").splitlines()[1:]
            except FileNotFoundError:
                lines = []
            self._written = {}
            for line in lines:
                relative, _, digest = line.partition("\t")
                if _is_relative(relative):
                    self._written[relative] = digest or None
        return self._written

    def claim(self, relative: str, *, replace_changed: bool = False) -> Path:
        """The path of ``relative`` in the folder, put on the list before anything is written there (its missing
        parent folders too). A file standing there that the command did not write is refused, and so is one changed
        since it wrote it, unless ``replace_changed`` (a file its own records found damaged)."""
        if not _is_relative(relative):
            raise DreamError(f"{relative!r} is not a path inside {str(self.root)!r}.")
        path = self.root / relative
        inside = [folder for folder in PurePosixPath(relative).parents if str(folder) != "."]
        linked = next((folder for folder in inside if (self.root / folder).is_symlink()), None)
        if linked is not None:
            raise DreamError(
                f"{str(self.root / linked)!r} is a link: dreamengine {self.command} writes only inside "
                f"{str(self.root)!r}, never through a link out of it."
            )
        if path.exists() or path.is_symlink():
            if relative not in self.written():
                raise DreamError(
                    f"{str(path)!r} is not a file dreamengine {self.command} wrote: it is left as it is; move it "
                    "away or give another folder."
                )
            if not replace_changed and not self._as_written(relative):
                raise DreamError(
                    f"{str(path)!r} was changed since dreamengine {self.command} wrote it: it is left as it is; "
                    "move it away to have it made again, or give another folder."
                )
        self._make_parents(PurePosixPath(relative).parent)
        self._note({relative: None})
        return path

    def write_bytes(self, relative: str, data: bytes, *, replace_changed: bool = False) -> Path:
        """Write ``data`` to ``relative`` atomically, after :meth:`claim`, and put its SHA-256 on the list; returns
        its path."""
        path = write_atomic(self.claim(relative, replace_changed=replace_changed), lambda handle: handle.write(data))
        self._note({relative: hashlib.sha256(data).hexdigest()})
        return path

    def remove_written(self, keep: Callable[[str], bool] = lambda relative: False) -> int:
        """Delete every file on the list as the command wrote it (except those ``keep`` keeps: a file changed since
        is kept too), then each listed folder left empty; the list keeps what is kept. Returns how many files were
        deleted."""
        written = self.written()
        kept = {relative: digest for relative, digest in written.items() if keep(relative)}
        removed = 0
        for relative in sorted(set(written) - set(kept)):
            path = self.root / relative
            if relative.endswith("/") or not (path.is_file() or path.is_symlink()):
                continue
            if self._as_written(relative):
                path.unlink()
                removed += 1
            else:
                kept[relative] = written[relative]
        for relative in sorted((r for r in set(written) - set(kept) if r.endswith("/")), key=len, reverse=True):
            try:
                (self.root / relative).rmdir()
            except OSError:  # a user's file in it, or a kept one
                kept[relative] = None
        self._written = None
        lines = [self._heading(), *(_line(relative, kept[relative]) for relative in sorted(kept))]
        write_atomic(self.list_path, lambda handle: handle.write("".join(f"{line}\n" for line in lines).encode()))
        return removed

    def _as_written(self, relative: str) -> bool:
        """Whether the file at ``relative`` holds what the command last wrote there, or is gone (a write not known
        to have ended counts as the command's: whole or not there, as writes are atomic)."""
        digest = self.written().get(relative)
        if digest is None:
            return True
        try:
            return hashlib.sha256((self.root / relative).read_bytes()).hexdigest() == digest
        except FileNotFoundError:  # gone: nothing of anyone's to keep
            return True
        except OSError:
            return False

    def _make_parents(self, parent: PurePosixPath) -> None:
        """Make ``parent`` (relative) and the folder itself where missing, each new one put on the list first."""
        if not self.root.is_dir():
            self.root.mkdir(parents=True)
        missing = []
        for folder in [parent, *parent.parents]:
            if str(folder) in ("", ".") or (self.root / folder).is_dir():
                break
            missing.append(f"{folder}/")
        self._note(dict.fromkeys(reversed(missing)))
        for relative in reversed(missing):
            (self.root / relative).mkdir(exist_ok=True)

    def _note(self, entries: Mapping[str, str | None]) -> None:
        """Put ``entries`` (a path, and the SHA-256 written there or ``None``) on the list where it does not hold
        them yet (the list's heading first, when it is new)."""
        written = self.written()
        new = {relative: digest for relative, digest in entries.items() if written.get(relative, "") != digest}
        if not new:
            return
        heading = [] if self.list_path.is_file() else [self._heading()]
        with open(self.list_path, "a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in [*heading, *(_line(r, d) for r, d in new.items())]))
        written.update(new)

    def _heading(self) -> str:
        return f"# dreamengine {self.command}"


def _some(names: list[str]) -> str:
    """The first few of ``names``, and how many more."""
    return ", ".join(names[:_SHOWN]) + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _line(relative: str, digest: str | None) -> str:
    """A line of the list: the path, and a tab and its SHA-256 once written."""
    return relative if digest is None else f"{relative}\t{digest}"


def _is_relative(relative: str) -> bool:
    """Whether ``relative`` names a place inside a folder: not absolute, no ``..``, not the list itself."""
    parts = PurePosixPath(relative).parts
    return bool(parts) and not relative.startswith("/") and ".." not in parts and relative != LIST_NAME


def check_apart(
    output: str | os.PathLike, source: str | os.PathLike, *, output_option: str, source_option: str
) -> None:
    """Refuse, in one line, an ``output`` folder equal to, inside, or holding the ``source`` folder the command
    reads (links followed), so that a command never writes among its own inputs."""
    out, src = Path(os.path.realpath(output)), Path(os.path.realpath(source))
    if out == src or src in out.parents:
        where = "is" if out == src else "is inside"
        raise DreamError(
            f"{output_option} {str(output)!r} {where} {source_option} {str(source)!r}: give an output folder outside "
            "the images; nothing was written."
        )
    if out in src.parents:
        raise DreamError(
            f"{output_option} {str(output)!r} holds {source_option} {str(source)!r}: give an output folder that does "
            "not hold the images; nothing was written."
        )
