//! `weir generate`.

use std::process::ExitCode;
use std::time::Instant;

use weir_engine::keys::{DksClient, DksConfig, correlation_id};
use weir_engine::record::{Cipher, CollectionName};
use weir_engine::storage::Location;
use weir_testkit::dks::MasterKey;
use weir_testkit::generate::{GenerateConfig, KeySource, generate};

use crate::cli::{CipherArg, GenerateArgs};
use crate::dates::export_dates;
use crate::error::Error;

pub(crate) fn run(args: GenerateArgs) -> Result<ExitCode, Error> {
    let collections = args
        .collections
        .iter()
        .map(|c| CollectionName::parse(c).map_err(|e| Error::usage("--collection", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let config = GenerateConfig {
        collections,
        export_dates: export_dates(
            args.date.as_deref(),
            args.start_date.as_deref(),
            args.end_date.as_deref(),
        )?,
        records_per_day: args.records,
        files_per_day: args.files_per_day,
        records_per_key: args.records_per_key,
        cipher: match args.cipher {
            CipherArg::Ctr => Cipher::Ctr,
            CipherArg::Gcm => Cipher::Gcm,
        },
        seed: args.seed,
        corrupt_rate: args.corrupt_rate,
        key_ids: args.key_ids,
    };
    let keys = match &args.dks_url {
        Some(url) => KeySource::Dks(DksClient::new(&DksConfig::new(url), correlation_id())?),
        None => KeySource::Master(MasterKey::load_or_create(&args.master_key_file)?),
    };
    crate::runtime()?.block_on(async {
        let dest = Location::parse(&args.dest, &Default::default())?;
        let started = Instant::now();
        let manifest = generate(&config, &keys, &dest).await?;
        let secs = started.elapsed().as_secs_f64();
        let (mut records, mut corrupt, mut bytes) = (0u64, 0u64, 0u64);
        for (collection, days) in &manifest.collections {
            for (landing, day) in days {
                println!(
                    "{collection} {landing} (export {}): {} records, {} corrupt, {} files under {}",
                    day.export_date,
                    day.records,
                    day.corrupt,
                    day.files.len(),
                    day.prefix
                );
                records += day.records;
                corrupt += day.corrupt;
                bytes += day.files.iter().map(|f| f.bytes_compressed).sum::<u64>();
            }
        }
        println!(
            "generated {records} records ({corrupt} corrupt, {:.1} MB gzip) in {secs:.1} s ({:.0} records/s); manifest: {}",
            bytes as f64 / 1e6,
            records as f64 / secs.max(1e-9),
            dest.display(&dest.child("manifest.json"))
        );
        Ok::<_, Error>(ExitCode::SUCCESS)
    })
}
