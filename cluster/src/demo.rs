//! `weir demo`: sample collections generated on first use under `./weir-data`,
//! the local key service in-process, and the daily job over them.

use std::path::Path;
use std::process::ExitCode;

use weir_engine::keys::DksConfig;
use weir_engine::record::CollectionName;
use weir_engine::storage::Location;
use weir_testkit::dks::{MasterKey, ServeConfig, server};
use weir_testkit::generate::{GenerateConfig, KeySource, Manifest, generate};

use crate::cli::DemoArgs;
use crate::config::RunSettings;
use crate::error::Error;

const COLLECTIONS: [(&str, u64); 3] = [
    ("calculator:calculationParts", 1),
    ("data:businessAudit", 4),
    ("core:claimant", 4),
];

pub(crate) fn run(args: &DemoArgs) -> Result<ExitCode, Error> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::usage("--dir", format!("{}: {e}", dir.display())))?;
    let master_file = dir.join("dks-master.key");
    let source = dir.join("source");
    let dest = dir.join("output");
    crate::runtime()?.block_on(async {
        let manifest = match read_manifest(&source) {
            Some(m) => {
                println!(
                    "weir demo: using the sample data under {}",
                    source.display()
                );
                m
            }
            None => generate_sample(&source, &master_file, args.records).await?,
        };
        let dates: Vec<chrono::NaiveDate> = manifest
            .collections
            .values()
            .flat_map(|days| days.values().filter_map(|d| d.export_date.parse().ok()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let dks = server::start(ServeConfig::new(
            "127.0.0.1:0"
                .parse()
                .map_err(|_| Error::usage("--bind", "bad address"))?,
            &master_file,
        ))
        .await?;
        println!("weir demo: local key service on {}", dks.url());
        let mut settings = RunSettings::with_defaults(
            COLLECTIONS
                .iter()
                .filter_map(|(c, _)| CollectionName::parse(c).ok())
                .collect(),
            dates,
            source.display().to_string(),
            dest.display().to_string(),
            DksConfig::new(dks.url()),
        );
        settings.report = Some(dir.join("report.json"));
        let report = crate::run::execute(
            &settings,
            &weir_ingesters::Registry::with_builtins(),
            crate::run::Command::Run,
        )
        .await;
        dks.stop().await;
        let code = crate::run::finish(&settings, &report?)?;
        println!();
        println!("Where to look:");
        println!(
            "  input:      {}/corporate_storage/ (gzip JSON lines, K2HB layout)",
            source.display()
        );
        println!(
            "  output:     {}/corporate_data_ingestion/ (orc, json, parquet)",
            dest.display()
        );
        println!(
            "  quarantine: {}/corporate_data_ingestion/_corrupt/",
            dest.display()
        );
        println!(
            "  manifest of planted corrupt records: {}/manifest.json",
            source.display()
        );
        println!("Run it again: the same day is replaced, nothing else changes.");
        Ok(code)
    })
}

fn read_manifest(source: &Path) -> Option<Manifest> {
    let text = std::fs::read(source.join("manifest.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

async fn generate_sample(
    source: &Path,
    master_file: &Path,
    records: u64,
) -> Result<Manifest, Error> {
    let today = chrono::Utc::now().date_naive();
    println!(
        "weir demo: generating sample collections for export date {today} under {} (first run only)",
        source.display()
    );
    let keys = KeySource::Master(MasterKey::load_or_create(master_file)?);
    let dest = Location::parse(&source.display().to_string(), &Default::default())?;
    let mut manifest = Manifest::default();
    for (name, divisor) in COLLECTIONS {
        let config = GenerateConfig {
            collections: vec![
                CollectionName::parse(name)
                    .map_err(|e| Error::usage("collection", e.to_string()))?,
            ],
            export_dates: vec![today],
            records_per_day: (records / divisor).max(1),
            files_per_day: 4,
            records_per_key: 5_000,
            corrupt_rate: 0.002,
            ..GenerateConfig::default()
        };
        let part = generate(&config, &keys, &dest).await?;
        manifest.collections.extend(part.collections);
    }
    manifest.format = "weir generate manifest".to_owned();
    manifest.version = 1;
    // One manifest for the three collections (each call wrote its own).
    std::fs::write(
        source.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
    )
    .map_err(|e| Error::usage("demo", format!("cannot write the manifest: {e}")))?;
    Ok(manifest)
}
