//! `weir dks serve`.

use std::process::ExitCode;

use weir_testkit::dks::{ServeConfig, ServerTls, server};

use crate::cli::{DksCommand, DksServeArgs};
use crate::error::Error;

pub(crate) fn run(command: DksCommand) -> Result<ExitCode, Error> {
    match command {
        DksCommand::Serve(args) => serve(args),
    }
}

fn serve(args: DksServeArgs) -> Result<ExitCode, Error> {
    let tls = match (args.tls_cert, args.tls_key, args.tls_client_ca) {
        (Some(cert), Some(key), Some(client_ca)) => Some(ServerTls {
            cert,
            key,
            client_ca,
        }),
        _ => None,
    };
    let config = ServeConfig {
        bind: args.bind,
        master_key_file: args.master_key_file,
        keys_file: args.keys_file,
        key_ids: args.key_ids,
        tls,
        fail_rate: args.fail_rate,
        latency_ms: args.latency_ms,
        insecure_http: args.insecure_http,
        header_timeout_ms: 10_000,
    };
    crate::runtime()?.block_on(async {
        let running = server::start(config).await?;
        // Tests and scripts read this line to learn the port.
        println!("weir dks: listening on {}", running.url());
        running.serve_until_signal().await;
        Ok::<_, Error>(ExitCode::SUCCESS)
    })
}
