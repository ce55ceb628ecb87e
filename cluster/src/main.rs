//! `weir`: parses the command line and hands over to the library.

use std::process::ExitCode;

// Many threads allocate and free batch-sized buffers: glibc's per-thread
// arenas let RSS creep up with the input; mimalloc keeps it flat and spends
// less time in the allocator (the figures are in the README's benchmarks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    weir_cluster::main_with(weir_cluster::Registry::with_builtins())
}
