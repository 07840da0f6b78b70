"""A bounded top-k per unit: the largest (or smallest) values seen so far, merged batch by batch."""

from __future__ import annotations

import torch

from dreamengine.errors import DreamError

__all__ = ["TopK"]


class TopK:
    """The ``k`` largest (or smallest) values of each row seen so far, with the image and the peak of each.

    Its size is fixed by ``rows x k``: :meth:`update` merges a batch into what is kept with one stable sort of
    ``[kept; new]`` per row, so ties keep the image seen first, and nothing else is held.
    """

    def __init__(self, rows: int, k: int, *, largest: bool = True) -> None:
        if k < 1:
            raise DreamError(f"the number of examples per unit must be at least 1, got {k}.")
        self.k = k
        self.largest = largest
        self.values = torch.empty(rows, 0)
        self.images = torch.empty(rows, 0, dtype=torch.long)
        self.peaks = torch.empty(rows, 0)
        self.where = torch.empty(rows, 0, dtype=torch.long)

    def update(self, values: torch.Tensor, images: torch.Tensor, peaks: torch.Tensor, where: torch.Tensor) -> None:
        """Merge a batch: ``values``, ``peaks`` and ``where`` are ``(rows, batch)``, ``images`` ``(batch,)``, the
        indices of the batch's images (increasing)."""
        values = torch.cat([self.values, values.float().cpu()], 1)
        order = torch.sort(values, dim=1, descending=self.largest, stable=True).indices[:, : self.k]
        self.values = values.gather(1, order)
        images = torch.cat([self.images, images.cpu().expand(values.shape[0], -1)], 1)
        self.images = images.gather(1, order)
        self.peaks = torch.cat([self.peaks, peaks.float().cpu()], 1).gather(1, order)
        self.where = torch.cat([self.where, where.cpu()], 1).gather(1, order)

    @property
    def nbytes(self) -> int:
        """The bytes held."""
        return sum(t.numel() * t.element_size() for t in (self.values, self.images, self.peaks, self.where))

    def __repr__(self) -> str:
        return f"TopK(rows={self.values.shape[0]}, k={self.k}, largest={self.largest})"
