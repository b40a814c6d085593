"""Export downloads: the same rows, filters and formats as `ivr export`, streamed to the browser."""

from __future__ import annotations

import io
import logging
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator

from flask import Response, abort, request, send_file, stream_with_context

from handlers.admin.auth import login_required
from handlers.admin.blueprint import bp
from handlers.admin.params import read_filters, read_range
from handlers.security import runtime
from ivr import export
from ivr.metrics import Filters

log = logging.getLogger("ivr.admin")
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_DONE = object()


class ChunkPipe(io.RawIOBase):
    """A write-only stream whose chunks a reader takes from a small queue (so memory stays flat)."""

    def __init__(self, depth: int = 32):
        super().__init__()
        self.chunks: queue.Queue = queue.Queue(maxsize=depth)
        self.cancelled = threading.Event()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        """Hand a chunk to the reader (waiting while the queue is full); stop once it went away."""
        while not self.cancelled.is_set():
            try:
                self.chunks.put(bytes(data), timeout=0.5)
                return len(data)
            except queue.Full:
                continue
        raise BrokenPipeError("the download was cancelled")


def stream_writes(write: Callable[[io.RawIOBase], object]) -> Iterator[bytes]:
    """Run `write(pipe)` in a thread and yield what it writes, as it writes it."""
    pipe = ChunkPipe()

    def run() -> None:
        try:
            write(pipe)
        except BrokenPipeError:
            return
        except Exception as exc:  # the download ends short; the log says why
            log.exception("export failed")
            pipe.chunks.put(exc)
            return
        pipe.chunks.put(_DONE)

    threading.Thread(target=run, name="ivr-export", daemon=True).start()
    try:
        while (chunk := pipe.chunks.get()) is not _DONE:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk
    finally:
        pipe.cancelled.set()


@bp.get("/export")
@login_required()
def export_download() -> Response:
    """Download surveys, calls or voicemail of the chosen days as CSV, JSON Lines or XLSX."""
    days, filters = read_range(), read_filters()
    kind, fmt = request.args.get("kind", "surveys"), request.args.get("format", "csv")
    if kind not in export.KINDS:
        abort(400, f"kind must be one of {', '.join(export.KINDS)}")
    if fmt not in FORMATS:
        abort(400, f"format must be one of {', '.join(FORMATS)}")
    selection = Filters(queue=filters.get("queue"), language=filters.get("language"),
                        agent=filters.get("agent"))
    rows = export.rows(runtime().redis, kind, days.since, days.until, selection, days.tz)
    name = f"{kind}_{days.first}_{days.last}.{fmt}"
    if fmt == "xlsx":
        spool = tempfile.TemporaryFile()  # the workbook is zipped at the end, so not streamable
        export.write_xlsx(rows, spool, rows.columns, title=kind)
        spool.seek(0)
        return send_file(spool, mimetype=FORMATS[fmt], as_attachment=True, download_name=name)
    bom = request.args.get("bom") == "1"
    if fmt == "csv":
        body = stream_writes(lambda out: export.write_csv(rows, out, rows.columns, bom=bom))
    else:
        body = stream_writes(lambda out: export.write_jsonl(rows, out, rows.columns))
    return Response(stream_with_context(body), mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff"})
