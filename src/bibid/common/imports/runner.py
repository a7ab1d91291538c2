"""Reading an import file in batches, with a checkpoint in the database, and writing its report.

Shared by `bibid identity import` (login accounts) and `bibid library import` (customers and
subscriptions); each gives an Importer that checks and writes one batch of rows.

    file ──► rows (JSON Lines, or CSV with a header) ──► batches of `batch_size`
        each batch, in ONE transaction: the importer's writes, the rows it refused, and the
        checkpoint (byte offset and line of the batch's end) with the running counts
    end ──► the run is marked finished; the report (CSV or JSON Lines) lists every refused or
            conflicting row with its line, field, code and reason

Why it is resumable and never writes a row twice: the checkpoint moves in the transaction
that writes the rows, so whatever stops the process (Ctrl-C, kill -9, a lost database
connection) leaves the rows and the checkpoint agreeing. A new run of the same file (found by
its SHA-256, so an edited file starts afresh) continues at the checkpoint; and importers
compare a row with what is already there (same content: skipped; other content: a
conflict), so even a file run twice, or a row given twice, creates nothing twice.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from bibid.common import clock

from .models import ImportProblem, ImportRun

REFUSED = "refused"
CONFLICT = "conflict"
REPORT_COLUMNS = ("line", "key", "outcome", "field", "code", "reason")


class ImportFileError(Exception):
    """The file cannot be imported at all (unknown format, unknown CSV columns)."""


@dataclass(frozen=True)
class Finding:
    """One line of the report: a row refused, or meeting other data already there."""

    line: int
    key: str
    outcome: str
    field: str
    code: str
    reason: str


@dataclass(frozen=True)
class Row:
    line: int  # where the row starts (1-based)
    last_line: int  # where it ends (a CSV value may span lines)
    end: int  # the byte offset just after it: the checkpoint once it is done
    data: dict[str, Any] | None
    error: Finding | None = None


@dataclass
class BatchResult:
    counts: Counter = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)


class Importer(Protocol):
    kind: str
    fields: tuple[str, ...]
    json_fields: frozenset[str]

    def write(self, rows: list[Row], *, dry_run: bool) -> BatchResult:
        """Check and (unless dry_run) write one batch; count every row once."""

    def finish(self, summary: Summary) -> None:
        """Record the run (its one audit event)."""


@dataclass
class Summary:
    counts: dict[str, int]
    report: Path
    run_id: int | None
    resumed_at_line: int
    dry_run: bool
    finished: bool = False


def _canonical(value: Any) -> str:
    # An instant is the same instant in any zone: a row's +01:00 equals the database's UTC.
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, str):
        return repr(str(value))  # a TextChoices member is its value
    return repr(value)


def fingerprint(content: dict[str, Any], names: tuple[str, ...]) -> bytes:
    """Four bytes per field: what a row or a stored record holds, small enough to keep for
    every row of a dry run (which has no database to compare with), and field by field, so
    a conflict names what differs (never the values) in a dry run as in a real one."""
    return b"".join(
        hashlib.blake2b(_canonical(content[name]).encode(), digest_size=4).digest()
        for name in names
    )


def differing(
    names: tuple[str, ...], held: bytes, wanted: bytes, ignore: frozenset[str] = frozenset()
) -> list[str]:
    """The fields whose fingerprints differ (a chance of 2**-32 per field to miss one)."""
    return [
        name
        for i, name in enumerate(names)
        if name not in ignore and held[4 * i : 4 * i + 4] != wanted[4 * i : 4 * i + 4]
    ]


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ImportFileError(f"Unknown file format {suffix!r}: use .jsonl or .csv (or --format).")


def scan(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines, in one pass."""
    digest, lines, last = hashlib.sha256(), 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return digest.hexdigest(), lines + (1 if last not in (b"", b"\n") else 0)


def _malformed(line: int, last_line: int, end: int, reason: str, field: str = "") -> Row:
    finding = Finding(line, "", REFUSED, field, "malformed", reason)
    return Row(line, last_line, end, None, finding)


def _json_rows(handle, offset: int, line: int, importer: Importer) -> Iterator[Row]:
    for raw in handle:
        line += 1
        offset += len(raw)
        try:
            text = raw.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError:
            yield _malformed(line, line, offset, _("Geen UTF-8."))
            continue
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            yield _malformed(line, line, offset, _("Geen geldige JSON: %s") % error.msg)
            continue
        if not isinstance(data, dict):
            yield _malformed(line, line, offset, _("Een regel is één JSON-object."))
            continue
        unknown = sorted(set(data) - set(importer.fields))
        if unknown:
            reason = _("Onbekend veld: %s.") % ", ".join(unknown)
            finding = Finding(line, "", REFUSED, unknown[0], "unknown_field", reason)
            yield Row(line, line, offset, None, finding)
            continue
        yield Row(line, line, offset, data)


def _csv_header(handle, importer: Importer) -> tuple[list[str], int]:
    raw = handle.readline()
    try:
        columns = next(csv.reader([raw.decode("utf-8-sig")]))
    except (UnicodeDecodeError, StopIteration) as error:
        raise ImportFileError("The CSV file has no readable header line.") from error
    columns = [c.strip() for c in columns]
    unknown = sorted(set(columns) - set(importer.fields))
    if unknown:
        # Refused before anything is written: a misspelt column would otherwise leave a
        # field empty in every row of the file.
        raise ImportFileError(f"Unknown CSV column(s): {', '.join(unknown)}.")
    return columns, len(raw)


def _csv_rows(
    handle, offset: int, line: int, importer: Importer, columns: list[str]
) -> Iterator[Row]:
    pending, first = b"", 0
    for raw in handle:
        line += 1
        offset += len(raw)
        if not pending:
            first = line
        pending += raw
        if pending.count(b'"') % 2:
            continue  # inside a quoted value that goes on on the next line
        record, pending = pending, b""
        try:
            text = record.decode("utf-8")
        except UnicodeDecodeError:
            yield _malformed(first, line, offset, _("Geen UTF-8."))
            continue
        if not text.strip():
            continue
        values = next(csv.reader(io.StringIO(text)))
        if len(values) != len(columns):
            reason = _("%(found)d waarden, %(expected)d kolommen.") % {
                "found": len(values),
                "expected": len(columns),
            }
            yield _malformed(first, line, offset, reason)
            continue
        data: dict[str, Any] = dict(zip(columns, values, strict=True))
        bad = None
        for name in importer.json_fields & set(data):
            try:
                data[name] = json.loads(data[name]) if data[name].strip() else []
            except json.JSONDecodeError:
                bad = name
        if bad:
            yield _malformed(first, line, offset, _("Geen geldige JSON."), field=bad)
            continue
        yield Row(first, line, offset, data)
    if pending:
        yield _malformed(first, line, offset, _("Een aanhalingsteken wordt niet gesloten."))


def read_rows(path: Path, fmt: str, importer: Importer, offset: int, line: int) -> Iterator[Row]:
    """The rows from `offset` on (a checkpoint), each with the offset just after it."""
    with path.open("rb") as handle:
        if fmt == "csv":
            columns, header_end = _csv_header(handle, importer)
            if offset <= header_end:
                offset, line = header_end, 1
            handle.seek(offset)
            yield from _csv_rows(handle, offset, line, importer, columns)
        else:
            handle.seek(offset)
            yield from _json_rows(handle, offset, line, importer)


def write_report(path: Path, findings: Iterable[Finding]) -> None:
    """The report: CSV, or JSON Lines when the name ends in .jsonl. No password hash is in
    it (importers never put a value of that field in a reason)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            for finding in findings:
                row = {name: getattr(finding, name) for name in REPORT_COLUMNS}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.writer(handle)
            writer.writerow(REPORT_COLUMNS)
            for finding in findings:
                writer.writerow([getattr(finding, name) for name in REPORT_COLUMNS])
    tmp.replace(path)  # a report is whole or absent, never half written


def _stored_findings(run_id: int) -> Iterator[Finding]:
    problems = ImportProblem.objects.filter(run_id=run_id).order_by("line", "id")
    for p in problems.iterator(chunk_size=2000):
        yield Finding(p.line, p.key, p.outcome, p.field, p.code, p.reason)


def _problem(run_row: ImportRun, finding: Finding) -> ImportProblem:
    return ImportProblem(
        run=run_row,
        line=finding.line,
        key=finding.key[:200],
        outcome=finding.outcome,
        field=finding.field[:64],
        code=finding.code[:64],
        reason=finding.reason,
    )


def _open_run(kind: str, path: Path, digest: str, actor: str) -> ImportRun:
    """The unfinished run of this very file, to resume; or a new one."""
    with transaction.atomic():
        found = (
            ImportRun.objects.select_for_update()
            .filter(kind=kind, source_sha256=digest, finished_at__isnull=True)
            .first()
        )
        if found is not None:
            found.resumed += 1
            found.save(update_fields=["resumed"])
            return found
    try:
        with transaction.atomic():
            return ImportRun.objects.create(
                kind=kind, source=str(path)[:500], source_sha256=digest, actor=actor[:200]
            )
    except IntegrityError as error:
        raise ImportFileError("Another import of this file is running.") from error


class Progress(Protocol):
    def update(self, n: int) -> Any: ...

    def close(self) -> Any: ...


def run(
    importer: Importer,
    path: Path | str,
    *,
    fmt: str | None = None,
    batch_size: int = 2000,
    dry_run: bool = False,
    actor: str = "",
    report: Path | str | None = None,
    progress: Callable[[int, int], Progress] | None = None,
) -> Summary:
    """Import a file (or, with dry_run, check it all and write nothing but the report)."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    digest, total_lines = scan(path)
    report_path = Path(report) if report else path.with_name(path.name + ".report.csv")
    run_row = None if dry_run else _open_run(importer.kind, path, digest, actor)
    offset, line = (run_row.offset, run_row.line) if run_row else (0, 0)
    counts: Counter = Counter(run_row.counts if run_row else {})
    in_memory: list[Finding] = []  # a dry run's findings (nothing goes to the database)
    summary = Summary({}, report_path, run_row.pk if run_row else None, line, dry_run)
    bar = progress(total_lines, line) if progress else None
    done_line = line

    def flush(batch: list[Row]) -> None:
        nonlocal done_line
        good = [row for row in batch if row.error is None]
        bad = [row.error for row in batch if row.error is not None]
        if dry_run:
            result = importer.write(good, dry_run=True)
            in_memory.extend(bad)
            in_memory.extend(result.findings)
        else:
            with transaction.atomic():
                result = importer.write(good, dry_run=False)
                ImportProblem.objects.bulk_create(
                    _problem(run_row, finding) for finding in [*bad, *result.findings]
                )
                after = counts + result.counts + Counter(refused=len(bad), rows=len(batch))
                ImportRun.objects.filter(pk=run_row.pk).update(
                    offset=batch[-1].end,
                    line=batch[-1].last_line,
                    counts=dict(after),
                    updated_at=clock.now(),
                )
        counts.update(result.counts)
        counts.update(refused=len(bad), rows=len(batch))
        if bar is not None:
            bar.update(batch[-1].last_line - done_line)
        done_line = batch[-1].last_line

    def report_now() -> None:
        summary.counts = dict(+counts)
        in_memory.sort(key=lambda finding: finding.line)  # stable: a row's own order stays
        write_report(report_path, _stored_findings(run_row.pk) if run_row else in_memory)

    try:
        batch: list[Row] = []
        for row in read_rows(path, fmt, importer, offset, line):
            batch.append(row)
            if len(batch) >= batch_size:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
        summary.finished = True
        if run_row is not None:
            ImportRun.objects.filter(pk=run_row.pk).update(
                finished_at=clock.now(), updated_at=clock.now()
            )
    except BaseException:
        # Interrupted: the report lists what was found so far (the next run completes it),
        # unless the database is what failed; the interruption is what the operator sees.
        with contextlib.suppress(Exception):
            report_now()
        raise
    finally:
        if bar is not None:
            bar.close()
    report_now()
    importer.finish(summary)
    return summary
