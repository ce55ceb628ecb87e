//! The `weir` binary answers `--help` with its commands. Besides that check,
//! this file makes `cargo test --workspace` build the binary, which the
//! integration tests under `tests/` run as users do.

#[test]
fn help_lists_the_commands() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("--help")
        .output()
        .expect("run weir --help");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for command in ["run", "demo", "dks", "generate", "conformance"] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
}
