//! What the spec makes collection-specific, as data the pipeline is given.

use std::fmt;

/// A collection name, `db:collection` (e.g. `team:things`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct CollectionName {
    db: String,
    collection: String,
}

/// A collection name that is not `db:collection`, or whose parts could not
/// be directory names of their own (the user's input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("collection name {name:?} {reason}")]
pub struct BadCollectionName {
    /// The text given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Longest database or collection part (MongoDB's own limits are lower).
const MAX_PART: usize = 120;

impl CollectionName {
    /// Parses `db:collection`. Each part becomes a directory of the input
    /// and output layouts, so it must be one: not empty, no `/`, `\`, `:`
    /// or control characters, not starting with `.` (so `..` cannot climb
    /// and `a/b` cannot nest one collection inside another's directory,
    /// whose republish would then delete it).
    pub fn parse(name: &str) -> Result<Self, BadCollectionName> {
        let bad = |reason| BadCollectionName {
            name: name.to_owned(),
            reason,
        };
        let (db, collection) = name
            .split_once(':')
            .ok_or_else(|| bad("is not of the form db:collection"))?;
        for part in [db, collection] {
            if part.is_empty() {
                return Err(bad("is not of the form db:collection"));
            }
            if part.len() > MAX_PART {
                return Err(bad("has a part longer than 120 bytes"));
            }
            if part.starts_with('.') {
                return Err(bad("has a part starting with '.'"));
            }
            if part
                .chars()
                .any(|c| matches!(c, '/' | '\\' | ':') || c.is_control())
            {
                return Err(bad("has a '/', '\\', ':' or control character in a part"));
            }
        }
        Ok(Self {
            db: db.to_owned(),
            collection: collection.to_owned(),
        })
    }

    /// The database part.
    pub fn db(&self) -> &str {
        &self.db
    }

    /// The collection part.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Whether this is `db:collection`.
    pub fn is(&self, db: &str, collection: &str) -> bool {
        self.db == db && self.collection == collection
    }
}

impl fmt::Display for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.db, self.collection)
    }
}

impl TryFrom<String> for CollectionName {
    type Error = BadCollectionName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CollectionName> for String {
    fn from(name: CollectionName) -> Self {
        name.to_string()
    }
}

impl std::str::FromStr for CollectionName {
    type Err = BadCollectionName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Per-run record behaviour (spec §3 and §7), chosen by the collection's
/// ingester (the default: neither).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RecordRules {
    /// Reshape the document around its `context` (spec §3).
    pub audit_transform: bool,
    /// Emit `id_part` from `message._id.id`; records without it are corrupt.
    pub id_part: bool,
    /// Spec §5.1: records whose message names one of these collections
    /// (its own `db` and `collection`, else the run's) lose their escaped
    /// `\r`, `\n` (and `\|`), as the older exporters of those collections
    /// did. The list is the ingesters' (the spec's three by default).
    #[serde(default)]
    pub strip_escapes_in: Vec<CollectionName>,
}

impl RecordRules {
    /// Whether spec §5.1 applies to a record whose message names `db:collection`.
    pub fn strips_escapes(&self, db: &str, collection: &str) -> bool {
        self.strip_escapes_in.iter().any(|c| c.is(db, collection))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_rules() {
        let n = CollectionName::parse("some:things").unwrap();
        assert_eq!((n.db(), n.collection()), ("some", "things"));
        assert_eq!(n.to_string(), "some:things");
        for bad in [
            "",
            "a",
            ":b",
            "a:",
            "a:b/c",
            "a/b:c",
            "..:c",
            "a:..",
            "a:.hidden",
            "a:b:c",
            "a:b\\c",
            "a:b\nc",
        ] {
            assert!(CollectionName::parse(bad).is_err());
        }
        let rules = RecordRules {
            strip_escapes_in: vec![CollectionName::parse("a:b").unwrap()],
            ..RecordRules::default()
        };
        assert!(rules.strips_escapes("a", "b"));
        assert!(!rules.strips_escapes("a", "c"));
        assert!(!RecordRules::default().strips_escapes("a", "b"));
    }
}
