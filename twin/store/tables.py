"""Row tables of a layer (trips, calls, outages…), appended at checkpoints.

A kernel declares its tables (:class:`twin.core.kernel.Table`: the row dimension and the
columns) and appends rows from its ``on_checkpoint`` hook through ``ctx.table(name)``; the
store writes them with the checkpoint, one array per column along the row dimension, plus
``<dim>_member``. A resumed run cuts each table back to what its checkpoint had written.
"""

from __future__ import annotations

import numpy as np
import zarr

from ..errors import StoreError


class TableWriter:
    """Buffers rows of one table and appends them to the layer group."""

    def __init__(self, group: zarr.Group, spec):
        self.group = group
        self.spec = spec
        self.columns = dict(spec.columns)
        self.columns[f"{spec.dim}_member"] = (np.int64, -1, "")
        col = next(iter(self.columns))
        self.n_written = group[col].shape[0] if col in group else 0
        self.n_rows = self.n_written
        self.buffer: list[dict] = []

    def append(self, rows: dict, member=0) -> None:
        """Append ``rows`` ({column: (n,) array}, every declared column) of ``member``
        (an int, or (n,) member indices)."""
        missing = set(self.spec.columns) - set(rows)
        extra = set(rows) - set(self.spec.columns)
        if missing or extra:
            raise StoreError(f"table {self.group.basename}/{self.spec.dim}: columns "
                             f"{sorted(missing)} missing, {sorted(extra)} not declared")
        n = {len(np.atleast_1d(v)) for v in rows.values()}
        if len(n) > 1:
            raise StoreError(f"table {self.group.basename}/{self.spec.dim}: columns of "
                             f"different lengths {sorted(n)}")
        k = n.pop() if n else 0
        rows = {c: np.asarray(rows[c], self.columns[c][0]).reshape(k)
                for c in self.spec.columns}
        rows[f"{self.spec.dim}_member"] = np.broadcast_to(
            np.asarray(member, np.int64), (k,)).copy()
        self.buffer.append(rows)
        self.n_rows += k

    def take(self) -> list[dict]:
        out, self.buffer = self.buffer, []
        return out

    def flush(self, buffer=None) -> None:
        """Write the buffered rows (or ``buffer`` from :meth:`take`)."""
        buffer = self.take() if buffer is None else buffer
        n0 = self.n_written
        n = n0 + sum(len(next(iter(b.values()))) for b in buffer)
        for name, (dtype, fill, units) in self.columns.items():
            if name not in self.group:
                self.group.create_array(name, shape=(0,), chunks=(16384,), dtype=dtype,
                                        fill_value=fill, dimension_names=(self.spec.dim,),
                                        attributes={"units": units} if units else {})
            arr = self.group[name]
            if arr.shape[0] != n:
                arr.resize((n,))
            if n > n0:
                arr[n0:n] = np.concatenate([b[name] for b in buffer])
        self.n_written = n

    def truncate(self, n: int) -> None:
        """Cut the table to its first ``n`` rows (resume)."""
        for name in self.columns:
            if name in self.group:
                self.group[name].resize((min(n, self.group[name].shape[0]),))
        self.n_written = self.n_rows = n
        self.buffer = []
