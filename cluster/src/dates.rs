//! Dates on the command line: one export date or an inclusive range.

use chrono::NaiveDate;

use crate::error::Error;

/// Longest date range one run takes (ten years of days).
const MAX_RANGE_DAYS: i64 = 3_660;

/// Parses `YYYY-MM-DD`.
pub(crate) fn parse_date(option: &str, text: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| Error::usage(option, format!("{text:?} is not a YYYY-MM-DD date ({e})")))
}

/// `--date D`, or `--start-date A --end-date B` (inclusive); neither: today.
pub(crate) fn export_dates(
    date: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<Vec<NaiveDate>, Error> {
    match (date, start, end) {
        (Some(d), _, _) => Ok(vec![parse_date("--date", d)?]),
        (None, Some(a), Some(b)) => {
            let (a, b) = (parse_date("--start-date", a)?, parse_date("--end-date", b)?);
            if a > b {
                return Err(Error::usage(
                    "--start-date",
                    format!("{a} is after --end-date {b}"),
                ));
            }
            // A typo in a year (2204 for 2024) should not queue centuries.
            let days = (b - a).num_days() + 1;
            if days > MAX_RANGE_DAYS {
                return Err(Error::usage(
                    "--end-date",
                    format!(
                        "{a}..{b} is {days} days; a run takes at most {MAX_RANGE_DAYS} (split the backfill)"
                    ),
                ));
            }
            Ok(a.iter_days().take_while(|d| *d <= b).collect())
        }
        _ => Ok(vec![chrono::Utc::now().date_naive()]),
    }
}
