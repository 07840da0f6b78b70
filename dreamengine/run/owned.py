"""A folder a command owns: it writes only there, lists every file and folder it makes, and deletes only those.

A command that writes many files into one folder (``dreamengine atlas``) opens
it as an :class:`OwnedFolder`. The folder must be missing, empty, or one the
same command made: it keeps a list of what it wrote, :data:`LIST_NAME`, whose
first line names the command. Before each file is written, its path goes on
the list (so a write cut short is still known); a path where a file stands
that is not on the list is refused, so a user's file is never overwritten.
:meth:`OwnedFolder.remove_written` deletes what the list names, and nothing
else: a user's own files in the folder, and any folder holding them, stay.

Opening checks and writes nothing: the folder and its list are made with the
first file, after every other check of the command has passed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import IO, Any

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
        self._written: set[str] | None = None

    def __repr__(self) -> str:
        return f"OwnedFolder({str(self.root)!r}, {self.command!r})"

    def __getstate__(self) -> dict[str, Any]:  # shipped to workers without the list read here
        return {**self.__dict__, "_written": None}

    @property
    def list_path(self) -> Path:
        return self.root / LIST_NAME

    def check(self, *, marker: str | None = None) -> bool:
        """Whether the folder holds this command's earlier work; refuse, in one line, a folder that is not a
        folder, or that holds anything else. ``marker`` names a file that only the command writes (``atlas.json``):
        a folder holding it without a list is an earlier release's, which did not list its files."""
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
            return True
        entries = sorted(entry.name for entry in self.root.iterdir())
        if not entries:
            return False
        if marker is not None and marker in entries:
            raise DreamError(
                f"{str(self.root)!r} holds a {self.command} made by an earlier dreamengine, which did not list the "
                "files it wrote: give a new folder (nothing in this one is changed)."
            )
        shown = ", ".join(entries[:_SHOWN]) + (f" and {len(entries) - _SHOWN} more" if len(entries) > _SHOWN else "")
        raise DreamError(
            f"{str(self.root)!r} is not empty and was not written by dreamengine {self.command} (it holds {shown}): "
            "give an empty or new folder; nothing was written."
        )

    def written(self) -> set[str]:
        """The paths this command wrote, relative to the folder, with ``/`` (folders end in ``/``)."""
        if self._written is None:
            try:
                lines = self.list_path.read_text(encoding="utf-8").splitlines()[1:]
            except FileNotFoundError:
                lines = []
            self._written = {line for line in lines if _is_relative(line)}
        return self._written

    def claim(self, relative: str) -> Path:
        """The path of ``relative`` in the folder, put on the list before anything is written there (its missing
        parent folders too); a file standing there that the command did not write is refused."""
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
        if relative not in self.written() and (path.exists() or path.is_symlink()):
            raise DreamError(
                f"{str(path)!r} is not a file dreamengine {self.command} wrote: it is left as it is; move it "
                "away or give another folder."
            )
        self._make_parents(PurePosixPath(relative).parent)
        self._note([relative])
        return path

    def write(self, relative: str, write: Callable[[IO[bytes]], Any]) -> Path:
        """Write ``relative`` atomically through ``write(handle)``, after :meth:`claim`; returns its path."""
        return write_atomic(self.claim(relative), write)

    def write_bytes(self, relative: str, data: bytes) -> Path:
        """Write ``data`` to ``relative`` atomically, after :meth:`claim`; returns its path."""
        return self.write(relative, lambda handle: handle.write(data))

    def remove_written(self, keep: Callable[[str], bool] = lambda relative: False) -> int:
        """Delete every file on the list (except those ``keep`` keeps), then each listed folder left empty; the
        list keeps what is kept. Returns how many files were deleted."""
        written = self.written()
        removed, kept = 0, {relative for relative in written if keep(relative)}
        for relative in sorted(written - kept):
            path = self.root / relative
            if not relative.endswith("/") and (path.is_file() or path.is_symlink()):
                path.unlink()
                removed += 1
        for relative in sorted((r for r in written - kept if r.endswith("/")), key=len, reverse=True):
            try:
                (self.root / relative).rmdir()
            except OSError:  # a user's file in it, or a kept one
                kept.add(relative)
        self._written = None
        text = "".join(f"{line}\n" for line in [self._heading(), *sorted(kept)])
        write_atomic(self.list_path, lambda handle: handle.write(text.encode()))
        return removed

    def _make_parents(self, parent: PurePosixPath) -> None:
        """Make ``parent`` (relative) and the folder itself where missing, each new one put on the list first."""
        if not self.root.is_dir():
            self.root.mkdir(parents=True)
        missing = []
        for folder in [parent, *parent.parents]:
            if str(folder) in ("", ".") or (self.root / folder).is_dir():
                break
            missing.append(f"{folder}/")
        self._note(reversed(missing))
        for relative in reversed(missing):
            (self.root / relative).mkdir(exist_ok=True)

    def _note(self, relatives: Iterable[str]) -> None:
        """Append what is not yet on the list to it (the list's heading first, when it is new)."""
        written = self.written()
        new = [relative for relative in relatives if relative not in written]
        if not new:
            return
        heading = [] if self.list_path.is_file() else [self._heading()]
        with open(self.list_path, "a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in [*heading, *new]))
        written.update(new)

    def _heading(self) -> str:
        return f"# dreamengine {self.command}"


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
