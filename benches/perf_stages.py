#!/usr/bin/env python3
"""Per-stage CPU of one `weir run`, from a perf profile with DWARF call
chains (`weir-e2e-bench --profile` records it):

    perf_stages.py PERF_DATA RECORDS

Each sample is given to the first stage whose pattern matches one of its
frames, from the innermost frame outwards, inlined frames included (so a
`memcpy` inside the inflater counts as gunzip, the JSON parser inside the
record pipeline's document step as document work). A sample no pattern
matches is `other`. Prints one row per stage: its share of the process's
CPU and its CPU microseconds per record; then the total.
"""

import re
import subprocess
import sys

# Innermost match wins, so specific stages come first in each chain; the
# list's order only breaks ties within one frame.
STAGES = [
    ("gunzip", r"inflate|Inflate|GzDecoder|GzipDecoder|decompress"),
    ("compress", r"deflate|Deflate|compress_block|zstd|ZSTD|snap::|Compress"),
    ("AES-CTR", r"\baes::|\bctr::|aes_|Aes128|cipher::"),
    ("base64", r"base64"),
    ("envelope", r"envelope|Envelope"),
    ("document", r"process_plaintext|pipeline::.*finish|transform|validate|sanitise|canonical"),
    ("key cache", r"keys::|DataKeys|moka|data_key"),
    ("line split", r"memchr|split_lines|lines_of|LineSplitter|scan::"),
    ("sort", r"sort|Sort|lexsort|merge::|Merge"),
    ("ORC encode", r"output::orc|orc::|rle|Rle|bloom"),
    ("Parquet encode", r"parquet::"),
    ("JSON lines encode", r"json::writer|LineDelimited|arrow_json"),
    ("row building", r"Builder|append|ingest::"),
    ("write and commit", r"commit|publish|object_store|write::|WriteExec|flush|std::fs|tokio::fs"),
    ("allocator", r"mi_|mimalloc|malloc|free|realloc"),
    ("kernel", r"^\[unknown\]$|entry_SYSCALL|do_syscall"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in STAGES]


def frames_of(text):
    """Yields (period, [symbol, ...]) per sample of `perf script` output."""
    period, frames = None, []
    for line in text.splitlines():
        if not line.strip():
            if period is not None:
                yield period, frames
            period, frames = None, []
        elif not line.startswith("\t") and not line.startswith(" " * 8 + "\t"):
            try:
                period = int(line.split()[0])
            except (ValueError, IndexError):
                period = None
            frames = []
        else:
            parts = line.strip().split(None, 1)
            symbol = parts[1] if len(parts) > 1 else "[unknown]"
            frames.append(symbol.removesuffix(" (inlined)"))
    if period is not None:
        yield period, frames


def stage_of(frames):
    for symbol in frames:
        for name, pattern in COMPILED:
            if pattern.search(symbol):
                return name
    return "other"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data, records = sys.argv[1], int(sys.argv[2])
    out = subprocess.run(
        ["perf", "script", "-i", data, "-F", "period,ip,sym", "--inline"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    totals = {}
    for period, frames in frames_of(out):
        stage = stage_of(frames)
        totals[stage] = totals.get(stage, 0) + period
    total = sum(totals.values()) or 1
    print(f"{'stage':<20} {'CPU %':>7} {'µs/record':>10}")
    for stage, ns in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{stage:<20} {100 * ns / total:>7.1f} {ns / 1e3 / records:>10.2f}")
    print(f"{'total':<20} {100.0:>7.1f} {total / 1e3 / records:>10.2f}")


if __name__ == "__main__":
    main()
