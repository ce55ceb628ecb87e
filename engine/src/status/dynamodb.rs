//! The old job's status table (`data_pipeline_metadata` in DynamoDB), for
//! estates whose pipelines poll it: the old item shape — `Correlation_Id`,
//! `DataProduct` = `CDI-<db:collection>`, `Date`, `Run_Id`, `Status`,
//! `Cluster_Id`, `TimeToExist`, and `S3_Prefix_CDI_Export` when the run
//! published an export — written beside the embedded status, which stays
//! the record Weir itself reads.
//!
//! The old job keyed the item by the run's correlation id alone, so a date
//! range overwrote one item and lost every day but the last. Here the
//! correlation id is the run's id and the export date (`<run id>_<date>`),
//! so every day of a run has its own item.
//!
//! The client is object_store's SigV4 signer (already in the tree for S3)
//! over reqwest, two calls (`PutItem`, and `CreateTable` for tests), instead
//! of the AWS SDK, which would add several hundred crates and minutes to a
//! cold build for that. Credentials come from the process's environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), as
//! the run's other AWS settings do; instance-profile credentials are not
//! fetched by this client.

use chrono::Utc;
use object_store::aws::{AwsAuthorizer, AwsCredential};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{DayRun, DayState};
use crate::{Error, Result};

/// How long the old job kept an item (`TimeToExist`): two years.
const TIME_TO_EXIST_SECS: i64 = 2 * 52 * 7 * 24 * 3600;

/// Where the table is (`[status.dynamodb]` in `weir.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamoSettings {
    /// The table (the old job's is `data_pipeline_metadata`).
    pub table: String,
    /// Its region (default: `AWS_REGION`, then `eu-west-2`).
    pub region: Option<String>,
    /// An endpoint other than AWS's (a VPC endpoint, or a test server).
    pub endpoint: Option<String>,
}

/// The table, reached with the environment's credentials.
#[derive(Debug, Clone)]
pub struct DynamoStatus {
    table: String,
    region: String,
    endpoint: String,
    client: reqwest::Client,
    /// Set only by [`DynamoStatus::with_credentials`]; otherwise the
    /// environment's, read at each call.
    credential: Option<StaticCredential>,
}

/// Explicit credentials; never printed.
#[derive(Clone)]
struct StaticCredential {
    key_id: String,
    secret_key: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for StaticCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticCredential(<redacted>)")
    }
}

impl DynamoStatus {
    /// The table `settings` name.
    pub fn new(settings: &DynamoSettings) -> Result<Self> {
        let region = settings
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "eu-west-2".to_owned());
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com"));
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Config {
                field: "status.dynamodb".to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            table: settings.table.clone(),
            region,
            endpoint,
            client,
            credential: None,
        })
    }

    /// The same table with explicit credentials (a test's, or a tool's
    /// that holds its own), instead of the environment's.
    pub fn with_credentials(mut self, key_id: &str, secret_key: &str) -> Self {
        self.credential = Some(StaticCredential {
            key_id: key_id.to_owned(),
            secret_key: zeroize::Zeroizing::new(secret_key.to_owned()),
        });
        self
    }

    /// The item of one run of one day, in the old shape.
    pub fn item(run: &DayRun, attempt: usize, export_prefix: Option<&str>) -> Value {
        let status = match run.state {
            DayState::InProgress => "IN_PROGRESS",
            DayState::Completed => "COMPLETED",
            DayState::Failed => "FAILED",
            DayState::Retracted => "RETRACTED",
            DayState::Expired => "EXPIRED",
        };
        let mut item = json!({
            "Correlation_Id": {"S": format!("{}_{}", run.run_id, run.export_date)},
            "DataProduct": {"S": format!("CDI-{}", run.collection)},
            "Date": {"S": run.export_date},
            "Run_Id": {"S": attempt.to_string()},
            "Status": {"S": status},
            "Cluster_Id": {"S": run.host},
            "TimeToExist": {"N": (Utc::now().timestamp() + TIME_TO_EXIST_SECS).to_string()},
        });
        if let Some(prefix) = export_prefix {
            item["S3_Prefix_CDI_Export"] = json!({"S": prefix});
        }
        item
    }

    /// Writes (replaces) a run's item for its day.
    pub async fn record(
        &self,
        run: &DayRun,
        attempt: usize,
        export_prefix: Option<&str>,
    ) -> Result<()> {
        let body =
            json!({"TableName": self.table, "Item": Self::item(run, attempt, export_prefix)});
        self.call("PutItem", &body).await.map(|_| ())
    }

    /// Creates the table with the old key (tests and first installs).
    pub async fn create_table(&self) -> Result<()> {
        let body = json!({
            "TableName": self.table,
            "KeySchema": [
                {"AttributeName": "Correlation_Id", "KeyType": "HASH"},
                {"AttributeName": "DataProduct", "KeyType": "RANGE"}
            ],
            "AttributeDefinitions": [
                {"AttributeName": "Correlation_Id", "AttributeType": "S"},
                {"AttributeName": "DataProduct", "AttributeType": "S"}
            ],
            "BillingMode": "PAY_PER_REQUEST"
        });
        self.call("CreateTable", &body).await.map(|_| ())
    }

    /// Every item of the table (tests; one page).
    pub async fn scan(&self) -> Result<Vec<Value>> {
        let answer = self.call("Scan", &json!({"TableName": self.table})).await?;
        Ok(answer["Items"].as_array().cloned().unwrap_or_default())
    }

    /// One signed DynamoDB JSON call.
    async fn call(&self, action: &str, body: &Value) -> Result<Value> {
        let failed = |detail: String| Error::Storage {
            op: "dynamodb",
            location: format!("{} table {}", self.endpoint, self.table),
            detail: crate::redact::secrets(&detail),
        };
        let credential = match &self.credential {
            Some(c) => AwsCredential {
                key_id: c.key_id.clone(),
                secret_key: c.secret_key.to_string(),
                token: None,
            },
            None => AwsCredential {
                key_id: std::env::var("AWS_ACCESS_KEY_ID")
                    .map_err(|_| failed("no AWS_ACCESS_KEY_ID in the environment".to_owned()))?,
                secret_key: std::env::var("AWS_SECRET_ACCESS_KEY").map_err(|_| {
                    failed("no AWS_SECRET_ACCESS_KEY in the environment".to_owned())
                })?,
                token: std::env::var("AWS_SESSION_TOKEN").ok(),
            },
        };
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut request = http::Request::builder()
            .method("POST")
            .uri(format!("{}/", self.endpoint.trim_end_matches('/')))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{action}"))
            .body(object_store::client::HttpRequestBody::from(bytes.clone()))
            .map_err(|e| failed(e.to_string()))?;
        AwsAuthorizer::new(&credential, "dynamodb", &self.region).authorize(&mut request, None);
        let (parts, _) = request.into_parts();
        let response = self
            .client
            .post(parts.uri.to_string())
            .headers(parts.headers)
            .body(bytes)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| failed(e.to_string()))?;
        if !status.is_success() {
            // DynamoDB's error bodies name the exception, not the item.
            let kind = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["__type"].as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(failed(format!("{action} answered {status} {kind}")));
        }
        serde_json::from_str(&text).map_err(|e| failed(crate::redact::json_error(&e)))
    }
}
