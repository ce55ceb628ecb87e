#!/usr/bin/env python3
"""Per-stage CPU of one `weir run`, from a perf profile with DWARF call
chains (`weir-e2e-bench --profile` records it):

    perf_stages.py PERF_DATA RECORDS

Each sample is given to the first stage whose pattern matches one of its
frames, from the innermost frame outwards, inlined frames included (so a
`memcpy` inside the inflater counts as gunzip, the JSON parser inside the
record pipeline's document step as document work). Allocator and kernel
frames are passed through to their caller's stage (a stage owns the
memory it asks for and the system calls it makes); the `alloc %` and
`kernel %` columns say how much of the stage's share was spent there. A
sample no pattern matches is `other`. Prints one row per stage: its share
of the process's CPU and its CPU microseconds per record; then the total.
"""

import re
import subprocess
import sys

# Innermost match wins, so specific stages come first in each chain; the
# list's order only breaks ties within one frame.
STAGES = [
    ("gunzip", r"inflate|Inflate|GzDecoder|GzipDecoder"),
    # The LZ4 frames of sorted runs (staged on object stores), not the input.
    ("run files (LZ4)", r"lz4"),
    ("compress", r"deflate|Deflate|compress_block|zstd|ZSTD|snap::|Compress"),
    ("AES-CTR", r"\baes::|\bctr::|aes_|Aes128|cipher::"),
    ("base64", r"base64"),
    ("envelope", r"envelope|Envelope"),
    ("document", r"process_plaintext|pipeline::.*finish|transform|validate|sanitise|canonical"),
    ("key cache", r"keys::|DataKeys|moka|data_key"),
    ("read input", r"read_from|poll_read|AsyncRead|File as std::io::Read|sys::fs::|tokio::fs::file"),
    ("line split", r"memchr|split_lines|lines_of|LineSplitter|exec::scan::"),
    ("sort and gather", r"sort|Sort|lexsort|flush::Sorted|gather|arrow_select::take|exec::merge::|streaming_merge"),
    ("ORC encode", r"output::orc|orc_rust|\borc::|bloom"),
    ("Parquet encode", r"parquet::"),
    ("JSON lines encode", r"serde_json::ser|arrow_json|output::encode::|json_string|gzip_lines|text_lines"),
    ("row building", r"Builder|append_(value|option|null|slice)|exec::ingest::"),
    ("write and commit", r"exec::write::|WriteExec|output::commit|publish|object_store|tokio::fs|CompactExec|exec::compact::"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in STAGES]
ALLOCATOR = re.compile(r"^mi_|mimalloc|^_?_?(malloc|free|realloc|calloc)|alloc::alloc|__rust_(alloc|dealloc|realloc)")
KERNEL = re.compile(r"^\[unknown\]$|entry_SYSCALL|do_syscall|^__(libc_)?(read|write|open|close)")


GENERICS = re.compile(r"(\w)<[^<>]*>")


def plain(symbol):
    """The symbol without generic arguments (`f<weir::exec::flush::X>` would
    otherwise match the stage of its type argument)."""
    while True:
        stripped = GENERICS.sub(r"\1", symbol)
        if stripped == symbol:
            # perf cuts long names short: an argument list left open is
            # dropped from its `<` on.
            return re.sub(r"(\w)<.*", r"\1", symbol)
        symbol = stripped


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
            frames.append(plain(symbol.removesuffix(" (inlined)")))
    if period is not None:
        yield period, frames


def stage_of(frames):
    """(stage, where): where is "alloc" or "kernel" when the innermost
    frame is the allocator's or the kernel's, else None."""
    where = None
    if frames and ALLOCATOR.search(frames[0]):
        where = "alloc"
    elif frames and KERNEL.search(frames[0]):
        where = "kernel"
    for symbol in frames:
        if ALLOCATOR.search(symbol) or KERNEL.search(symbol):
            continue
        for name, pattern in COMPILED:
            if pattern.search(symbol):
                return name, where
    return "other", where


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
    totals, inner = {}, {}
    for period, frames in frames_of(out):
        stage, where = stage_of(frames)
        totals[stage] = totals.get(stage, 0) + period
        if where:
            inner[(stage, where)] = inner.get((stage, where), 0) + period
    total = sum(totals.values()) or 1
    print(f"{'stage':<20} {'CPU %':>7} {'µs/record':>10} {'alloc %':>8} {'kernel %':>9}")
    for stage, ns in sorted(totals.items(), key=lambda kv: -kv[1]):
        alloc = 100 * inner.get((stage, "alloc"), 0) / ns
        kernel = 100 * inner.get((stage, "kernel"), 0) / ns
        print(
            f"{stage:<20} {100 * ns / total:>7.1f} {ns / 1e3 / records:>10.2f} {alloc:>8.0f} {kernel:>9.0f}"
        )
    print(f"{'total':<20} {100.0:>7.1f} {total / 1e3 / records:>10.2f}")


if __name__ == "__main__":
    main()
