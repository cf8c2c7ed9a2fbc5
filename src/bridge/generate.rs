//! Realistic records made from a table's schema, and the pace to send them at.
//!
//! # Records
//!
//! A [`Generator`] is built from a table's physical columns and its key column names
//! ([`Generator::new`], or [`Generator::for_table`] from a [`TableSpec`]). Each
//! [`Generator::next_row`] is one JSON object with every column, in column order, that passes
//! [`TableSpec::check_row`] (and [`types::check`](super::types::check)). Values are chosen by
//! the column's *name* first, then by its *type*:
//!
//! - the name is split into words (`user_id`, `userId`, `UserID` → `user`, `id`) and matched
//!   against families: ids (`id`, `*_id`, `uid`, `*_code`, `*_number`), uuids, person names
//!   (`name`, `full_name`, `first_name`, `surname` …), emails, usernames, phones, countries and
//!   country codes, cities, states, streets, zip codes, latitude/longitude, companies, products,
//!   categories, colors, URLs, hosts, IPs, user agents, currencies, amounts and prices,
//!   quantities and counts, ages, ratings, scores, percentages, temperatures, durations,
//!   statuses, event types, genders, job titles, free text, tags, times (`ts`, `*_at`,
//!   `*_time`, `created` …), birth dates, years, devices, browsers, languages, hashes and
//!   tokens, versions, and likely-true/likely-false flags (`active`, `is_deleted` …);
//! - the type then decides the form: a country is a name in a `STRING` but an ISO code in a
//!   `CHAR(2)`; an amount is `12.5` in a `DOUBLE`, `"12.50"`-like in a `DECIMAL(10, 2)` and
//!   `12` in an `INT`; a time is epoch milliseconds in a `BIGINT` and
//!   `yyyy-MM-dd HH:mm:ss.SSS` in a `TIMESTAMP`. Names with no family get plain values of
//!   their type. Person fields of one row (names, email, username) belong to the same person.
//!
//! Types are respected exactly: `CHAR(n)`/`VARCHAR(n)` lengths (in characters),
//! `BINARY(n)`/`VARBINARY(n)` lengths, integer ranges, `DECIMAL(p, s)` digits before and after
//! the point, `NOT NULL`. Flink's JSON forms are used: `yyyy-MM-dd` for `DATE`, `HH:mm:ss`
//! for `TIME`, `yyyy-MM-dd HH:mm:ss.SSS` for `TIMESTAMP`, the same with a `Z` suffix for
//! `TIMESTAMP_LTZ`, base64 for bytes, objects for `ROW`/`MAP`, an object from element to count
//! for `MULTISET`. `DECIMAL` values are JSON integers when the scale is 0, JSON numbers up to
//! precision 15 (exact in a double), and strings with the exact digits above. Types the bridge does not know (`INTERVAL`, `RAW` …)
//! are `null` when nullable and `""` otherwise. Nullable columns (and nested fields, array
//! elements and map values) are `null` with a small probability
//! ([`GenerateOptions::null_ratio`], 5% by default); key columns never are.
//!
//! Times are near "now": the system clock read once per row (so a long, paced run keeps
//! event times current for Flink's watermarks), or a fixed instant
//! ([`GenerateOptions::now_ms`]). With the same seed and a fixed instant the output is
//! identical from run to run; with the system clock only the times move.
//!
//! # Keys
//!
//! Key columns take their values from a key *index*: index `k` always gives the same key (for
//! one seed), so drawing indexes from a pool of [`KeySpace::Distinct`] size makes the same key
//! come back (updates of an upsert table), and [`KeySpace::Unique`] makes every key new. One
//! key column (the one able to hold the most distinct values, ids first) spells the index out
//! (`user-17`, `17`, …) so distinct indexes are distinct keys; other key columns are derived
//! from the index. With [`GenerateOptions::tombstone_ratio`] above zero, the generator also
//! yields [`Generated::Delete`] items: the key of a row it produced before and has not deleted
//! since.
//!
//! # Pace
//!
//! A [`Schedule`] is a base [`Rate`] (messages per second, or unlimited) and traffic-pattern
//! [`Window`]s that scale the rate between two times after the start (`30s-60s:300%`). It
//! answers when record `i` is due ([`Schedule::send_time`]); records are spread evenly, so
//! there are no bursts. A [`Pacer`] follows a schedule during a run from the elapsed time the
//! caller gives it (no clock inside, so it is testable without sleeping), and drops a backlog
//! older than [`Pacer::max_lag`] instead of bursting to catch up after a stall.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use fake::Fake;
use fake::faker::address::en::{CityName, CountryCode, CountryName, StateName, StreetName};
use fake::faker::company::en::CompanyName;
use fake::faker::internet::en::{DomainSuffix, IPv4, UserAgent};
use fake::faker::job::en::Title as JobTitle;
use fake::faker::lorem::en::{Sentence, Word};
use fake::faker::name::en::{FirstName, LastName};
use fake::faker::phone_number::en::CellNumber;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::IndexedRandom;
use rand::{Rng, RngExt, SeedableRng};
use serde_json::{Map, Number, Value};

use super::table::TableSpec;
use super::types::{DataType, Field, TimestampFormat, TypeKind};

// ---------------------------------------------------------------------------------------------
// Options, items, errors
// ---------------------------------------------------------------------------------------------

/// How a [`Generator`] makes records.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// The random seed; `None` picks one at random (see [`Generator::seed`] to report it).
    pub seed: Option<u64>,
    /// The probability that a nullable non-key value is `null`, from 0 to 1 (default 0.05).
    pub null_ratio: f64,
    /// How many distinct keys rows use (default [`KeySpace::default`]).
    pub key_space: KeySpace,
    /// The probability, from 0 to 1, that an item of the iterator is a
    /// [`Generated::Delete`] of a live key instead of a row (default 0). Needs key columns.
    pub tombstone_ratio: f64,
    /// A fixed "now" for times, in milliseconds since the epoch; `None` reads the system
    /// clock once per row.
    pub now_ms: Option<i64>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            seed: None,
            null_ratio: 0.05,
            key_space: KeySpace::default(),
            tombstone_ratio: 0.0,
            now_ms: None,
        }
    }
}

/// How many distinct keys the generated rows use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpace {
    /// Keys are drawn uniformly from this many distinct keys, so a key comes back (an update)
    /// once rows outnumber keys. Must be at least 1.
    Distinct(u64),
    /// Every row has a new key (no updates).
    Unique,
}

impl KeySpace {
    /// The default pool for about `rows` rows: a quarter as many keys (at least one), so each
    /// key is written about four times; [`KeySpace::default`] when the count is not known.
    pub fn for_rows(rows: Option<u64>) -> Self {
        match rows {
            Some(n) => Self::Distinct((n / 4).max(1)),
            None => Self::default(),
        }
    }
}

impl Default for KeySpace {
    /// A pool of 1000 keys.
    fn default() -> Self {
        Self::Distinct(1000)
    }
}

/// One item from a [`Generator`]: a row to write, or a key to delete.
#[derive(Debug, Clone, PartialEq)]
pub enum Generated {
    /// A row: an object with every physical column.
    Row(Map<String, Value>),
    /// A delete (tombstone) of a key written before: an object with the key columns only.
    Delete(Map<String, Value>),
}

impl Generated {
    /// The row, or the key row of a delete.
    pub fn fields(&self) -> &Map<String, Value> {
        match self {
            Self::Row(m) | Self::Delete(m) => m,
        }
    }

    /// Whether this is a delete.
    pub fn is_delete(&self) -> bool {
        matches!(self, Self::Delete(_))
    }
}

/// Why a [`Generator`] cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// A key column is not among the columns.
    #[error("key column `{0}` is not a physical column")]
    UnknownKey(String),
    /// A key column is named twice.
    #[error("key column `{0}` is named twice")]
    DuplicateKey(String),
    /// A ratio is not between 0 and 1.
    #[error("{name} {value} is not between 0 and 1")]
    Ratio {
        /// Which ratio (`null ratio`, `tombstone ratio`).
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// `KeySpace::Distinct(0)`.
    #[error("the key space must hold at least one key")]
    EmptyKeySpace,
    /// Tombstones were asked for a table without key columns.
    #[error("tombstones delete keys, but the table has no key columns")]
    TombstonesWithoutKey,
}

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

/// Makes realistic rows for a table (see the [module documentation](self)). Also an endless
/// [`Iterator`] of [`Generated`] items (rows, and deletes when tombstones are on).
pub struct Generator {
    rng: Xoshiro256PlusPlus,
    seed: u64,
    columns: Vec<Column>,
    /// Key columns in key order: (index into `columns`, spells the key index out).
    keys: Vec<(usize, bool)>,
    key_space: KeySpace,
    next_unique: u64,
    null_ratio: f64,
    tombstone_ratio: f64,
    /// Live keys, tracked only when tombstones are on.
    live: Option<LiveKeys>,
    fixed_now: Option<i64>,
    /// The instant key times are derived from, so a key index always gives the same key.
    anchor_ms: i64,
    needs_clock: bool,
    /// How TIMESTAMP and TIMESTAMP_LTZ values are written (the table's JSON format's standard).
    timestamps: TimestampFormat,
}

impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("seed", &self.seed)
            .field(
                "columns",
                &self.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
            )
            .field("key_space", &self.key_space)
            .finish_non_exhaustive()
    }
}

struct Column {
    name: String,
    node: Node,
    /// Position in `Generator::keys` when this is a key column.
    key_slot: Option<usize>,
}

impl Generator {
    /// A generator for rows of `columns` whose key is `key_fields` (column names, in key
    /// order; empty for no key).
    pub fn new(
        columns: &[Field],
        key_fields: &[String],
        options: GenerateOptions,
    ) -> Result<Self, GenerateError> {
        for (name, value) in [
            ("null ratio", options.null_ratio),
            ("tombstone ratio", options.tombstone_ratio),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(GenerateError::Ratio { name, value });
            }
        }
        if options.key_space == KeySpace::Distinct(0) {
            return Err(GenerateError::EmptyKeySpace);
        }
        if options.tombstone_ratio > 0.0 && key_fields.is_empty() {
            return Err(GenerateError::TombstonesWithoutKey);
        }
        let mut plan: Vec<Column> = columns
            .iter()
            .map(|f| Column {
                name: f.name.clone(),
                node: Node::compile(&f.name, &f.data_type),
                key_slot: None,
            })
            .collect();
        let mut keys = Vec::new();
        for (slot, key) in key_fields.iter().enumerate() {
            let index = plan
                .iter()
                .position(|c| &c.name == key)
                .ok_or_else(|| GenerateError::UnknownKey(key.clone()))?;
            if plan[index].key_slot.is_some() {
                return Err(GenerateError::DuplicateKey(key.clone()));
            }
            plan[index].key_slot = Some(slot);
            keys.push((index, false));
        }
        // The key column that spells the key index out: the one holding the most distinct
        // values; among equals an id, then the later column.
        if let Some(best) = (0..keys.len()).max_by_key(|&i| {
            let node = &plan[keys[i].0].node;
            (
                node.capacity(),
                matches!(node.sem, Sem::Id(_) | Sem::Uuid),
                i,
            )
        }) {
            keys[best].1 = true;
        }
        let seed = options.seed.unwrap_or_else(rand::random);
        let needs_clock = options.now_ms.is_none() && plan.iter().any(|c| c.node.uses_clock());
        let anchor_ms = options.now_ms.unwrap_or_else(system_now_ms);
        Ok(Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            seed,
            columns: plan,
            keys,
            key_space: options.key_space,
            next_unique: 0,
            null_ratio: options.null_ratio,
            tombstone_ratio: options.tombstone_ratio,
            live: (options.tombstone_ratio > 0.0).then(LiveKeys::default),
            fixed_now: options.now_ms,
            anchor_ms,
            needs_clock,
            timestamps: TimestampFormat::Sql,
        })
    }

    /// A generator for `spec`'s physical columns and key fields (a changelog's rows are keyed
    /// by its PRIMARY KEY, so updates and deletes repeat those).
    pub fn for_table(spec: &TableSpec, options: GenerateOptions) -> Result<Self, GenerateError> {
        let keys = if spec.is_changelog() {
            spec.row_key_columns()
        } else {
            &spec.key_fields
        };
        let mut generator = Self::new(&spec.columns, keys, options)?;
        generator.timestamps = spec.timestamps;
        Ok(generator)
    }

    /// The seed in use (the one given, or the one picked): giving it back with the same
    /// options repeats the output.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next row: an object with every column, in column order. Draws its key from the key
    /// space; never a delete.
    pub fn next_row(&mut self) -> Map<String, Value> {
        let key_values = if self.keys.is_empty() {
            Vec::new()
        } else {
            let k = match self.key_space {
                KeySpace::Distinct(n) => self.rng.random_range(0..n),
                KeySpace::Unique => {
                    self.next_unique += 1;
                    self.next_unique - 1
                }
            };
            if let Some(live) = &mut self.live {
                live.insert(k, &mut self.rng);
            }
            self.key_values(k)
        };
        let now_ms = match self.fixed_now {
            Some(now) => now,
            None if self.needs_clock => system_now_ms(),
            None => self.anchor_ms,
        };
        let env = Env {
            now_ms,
            null_ratio: self.null_ratio,
            timestamps: self.timestamps,
        };
        let mut persona = None;
        let mut key_values: Vec<Option<Value>> = key_values.into_iter().map(Some).collect();
        let mut row = Map::with_capacity(self.columns.len());
        for column in &self.columns {
            let value = match column.key_slot {
                Some(slot) => key_values[slot].take().unwrap_or(Value::Null),
                None => column
                    .node
                    .nullable_value(&mut self.rng, &env, Some(&mut persona)),
            };
            row.insert(column.name.clone(), value);
        }
        row
    }

    /// The next item: a delete of a live key with probability
    /// [`GenerateOptions::tombstone_ratio`] (when a live key exists), else a row.
    pub fn next_item(&mut self) -> Generated {
        if let Some(live) = &mut self.live
            && !live.keys.is_empty()
            && self.rng.random_bool(self.tombstone_ratio)
            && let Some(k) = live.remove_random(&mut self.rng)
        {
            let values = self.key_values(k);
            let mut key = Map::with_capacity(values.len());
            for ((index, _), value) in self.keys.iter().zip(values) {
                key.insert(self.columns[*index].name.clone(), value);
            }
            return Generated::Delete(key);
        }
        Generated::Row(self.next_row())
    }

    /// The values of the key columns for key index `k`, in key order.
    fn key_values(&self, k: u64) -> Vec<Value> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(self.seed, k));
        let env = Env {
            now_ms: self.anchor_ms,
            null_ratio: 0.0,
            timestamps: self.timestamps,
        };
        self.keys
            .iter()
            .map(|&(index, spells)| {
                let node = &self.columns[index].node;
                if spells {
                    node.key_value(k, &mut rng, &env)
                } else {
                    node.value(&mut rng, &env, None)
                }
            })
            .collect()
    }
}

impl Iterator for Generator {
    type Item = Generated;

    /// Always `Some`: the generator never ends (use [`Iterator::take`]).
    fn next(&mut self) -> Option<Generated> {
        Some(self.next_item())
    }
}

/// Keys written and not deleted since, to pick tombstones from. At most [`LiveKeys::CAP`]
/// are tracked; past that a new key replaces a random tracked one (which stays live but can no
/// longer be deleted), so memory stays bounded with [`KeySpace::Unique`].
#[derive(Default)]
struct LiveKeys {
    keys: Vec<u64>,
    position: HashMap<u64, usize>,
}

impl LiveKeys {
    const CAP: usize = 1 << 16;

    fn insert(&mut self, k: u64, rng: &mut impl Rng) {
        if self.position.contains_key(&k) {
            return;
        }
        if self.keys.len() < Self::CAP {
            self.position.insert(k, self.keys.len());
            self.keys.push(k);
        } else {
            let i = rng.random_range(0..self.keys.len());
            self.position.remove(&self.keys[i]);
            self.keys[i] = k;
            self.position.insert(k, i);
        }
    }

    fn remove_random(&mut self, rng: &mut impl Rng) -> Option<u64> {
        if self.keys.is_empty() {
            return None;
        }
        let i = rng.random_range(0..self.keys.len());
        let k = self.keys.swap_remove(i);
        self.position.remove(&k);
        if let Some(&moved) = self.keys.get(i) {
            self.position.insert(moved, i);
        }
        Some(k)
    }
}

/// A seed for key index `k` (SplitMix64 finalizer over the seed and the index).
fn mix(seed: u64, k: u64) -> u64 {
    let mut z = seed ^ k.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------------------------
// The plan: a column's type and meaning, compiled once
// ---------------------------------------------------------------------------------------------

/// What a name says a value is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sem {
    Plain,
    /// An id; the text is the stem for string ids (`user` for `user_id`), maybe empty.
    Id(String),
    Uuid,
    FirstName,
    LastName,
    FullName,
    Username,
    Email,
    Phone,
    Country,
    CountryCode,
    City,
    State,
    Street,
    Zip,
    Latitude,
    Longitude,
    Company,
    Product,
    Category,
    Color,
    HexColor,
    Url,
    Domain,
    Ip,
    UserAgent,
    Currency,
    Amount,
    Quantity,
    Count,
    Age,
    Rating,
    Score,
    Percent,
    Temperature,
    Duration,
    Status,
    EventType,
    Gender,
    JobTitle,
    Text,
    Word,
    Moment,
    BirthDate,
    Year,
    Device,
    Browser,
    Language,
    Hex,
    Version,
    LikelyTrue,
    LikelyFalse,
}

#[derive(Debug, Clone)]
struct Node {
    sem: Sem,
    nullable: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Boolean,
    Int { min: i64, max: i64 },
    Float { single: bool },
    Decimal { precision: u32, scale: u32 },
    String { length: Option<u32> },
    Bytes { length: Option<u32> },
    Date,
    Time,
    Timestamp { ltz: bool },
    Array(Box<Node>),
    Multiset(Box<Node>),
    Map(Box<Node>, Box<Node>),
    Row(Vec<(String, Node)>),
    Other,
}

impl Node {
    fn compile(name: &str, data_type: &DataType) -> Self {
        Self::compile_with(classify(name, data_type), data_type)
    }

    fn compile_with(sem: Sem, data_type: &DataType) -> Self {
        let kind = match &data_type.kind {
            TypeKind::Boolean => Kind::Boolean,
            TypeKind::TinyInt => Kind::Int {
                min: i8::MIN.into(),
                max: i8::MAX.into(),
            },
            TypeKind::SmallInt => Kind::Int {
                min: i16::MIN.into(),
                max: i16::MAX.into(),
            },
            TypeKind::Int => Kind::Int {
                min: i32::MIN.into(),
                max: i32::MAX.into(),
            },
            TypeKind::BigInt => Kind::Int {
                min: i64::MIN,
                max: i64::MAX,
            },
            TypeKind::Float => Kind::Float { single: true },
            TypeKind::Double => Kind::Float { single: false },
            TypeKind::Decimal { precision, scale } => Kind::Decimal {
                precision: *precision,
                scale: *scale,
            },
            TypeKind::String { length } => Kind::String { length: *length },
            TypeKind::Bytes { length } => Kind::Bytes { length: *length },
            TypeKind::Date => Kind::Date,
            TypeKind::Time => Kind::Time,
            TypeKind::Timestamp => Kind::Timestamp { ltz: false },
            TypeKind::TimestampLtz => Kind::Timestamp { ltz: true },
            // Elements and map values keep the collection's meaning (`tags` → words).
            TypeKind::Array(element) => {
                Kind::Array(Box::new(Self::compile_with(sem.clone(), element)))
            }
            TypeKind::Multiset(element) => {
                Kind::Multiset(Box::new(Self::compile_with(sem.clone(), element)))
            }
            TypeKind::Map(key, value) => Kind::Map(
                Box::new(Self::compile_with(Sem::Word, key)),
                Box::new(Self::compile_with(sem.clone(), value)),
            ),
            TypeKind::Row(fields) => Kind::Row(
                fields
                    .iter()
                    .map(|f| (f.name.clone(), Self::compile(&f.name, &f.data_type)))
                    .collect(),
            ),
            _ => Kind::Other,
        };
        Self {
            sem,
            nullable: data_type.nullable,
            kind,
        }
    }

    /// Whether values read the clock (so rows need "now").
    fn uses_clock(&self) -> bool {
        match &self.kind {
            Kind::Date | Kind::Time | Kind::Timestamp { .. } => true,
            Kind::Array(e) | Kind::Multiset(e) => e.uses_clock(),
            Kind::Map(k, v) => k.uses_clock() || v.uses_clock(),
            Kind::Row(fields) => fields.iter().any(|(_, n)| n.uses_clock()),
            _ => matches!(self.sem, Sem::Moment | Sem::BirthDate | Sem::Year),
        }
    }

    /// How many distinct keys [`Node::key_value`] can spell out.
    fn capacity(&self) -> u128 {
        match &self.kind {
            Kind::Int { max, .. } => *max as u128,
            Kind::Float { single: true } => 1 << 24,
            Kind::Float { single: false } => 1 << 53,
            Kind::Decimal { precision, scale } => {
                let digits = precision.saturating_sub(*scale);
                let digits = if digits == 0 { *scale } else { digits };
                10u128.saturating_pow(digits.min(38)) - 1
            }
            Kind::String { length: None } | Kind::Bytes { length: None } => u128::MAX,
            Kind::String { length: Some(n) } if *n >= 10 => 9_999_999_999,
            Kind::String { length: Some(n) } => 36u128.pow(*n),
            Kind::Bytes { length: Some(n) } => 256u128.saturating_pow((*n).min(8)),
            Kind::Date => 36_500,
            Kind::Time => 86_400,
            Kind::Timestamp { .. } => u64::MAX.into(),
            Kind::Boolean => 2,
            _ => 1,
        }
    }

    /// A value, `null` with the null ratio when nullable. `persona` is the row's person for
    /// top-level columns, `None` below.
    fn nullable_value<R: Rng>(
        &self,
        rng: &mut R,
        env: &Env,
        persona: Option<&mut Option<Persona>>,
    ) -> Value {
        if self.nullable
            && (matches!(self.kind, Kind::Other)
                || env.null_ratio > 0.0 && rng.random_bool(env.null_ratio))
        {
            return Value::Null;
        }
        self.value(rng, env, persona)
    }

    /// A non-null value.
    fn value<R: Rng>(
        &self,
        rng: &mut R,
        env: &Env,
        persona: Option<&mut Option<Persona>>,
    ) -> Value {
        match &self.kind {
            Kind::Boolean => Value::Bool(rng.random_bool(match self.sem {
                Sem::LikelyTrue => 0.9,
                Sem::LikelyFalse => 0.05,
                _ => 0.5,
            })),
            Kind::Int { min, max } => Value::from(self.int_value(*min, *max, rng, env)),
            Kind::Float { .. } => float(self.float_value(rng, env)),
            Kind::Decimal { precision, scale } => {
                let (lo, hi) = self.sem.int_range(env).unwrap_or((0, 1000));
                decimal_value(*precision, *scale, lo, hi, rng)
            }
            Kind::String { length } => {
                let mut persona = persona;
                let mut text = String::new();
                // A few tries for a value that fits, then the last one cut to the length.
                for _ in 0..3 {
                    text = self.sem.text(rng, env, persona.as_deref_mut());
                    if fits(&text, *length) {
                        break;
                    }
                }
                Value::String(truncate(text, *length))
            }
            Kind::Bytes { length } => {
                let n = length.map_or(16, |n| n.min(16)) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Kind::Date => {
                let today = env.now_ms.div_euclid(DAY_MS);
                let days = match self.sem {
                    Sem::Moment => today,
                    Sem::BirthDate => today - rng.random_range(18 * 365..80 * 365),
                    _ => today - rng.random_range(0..=365),
                };
                Value::String(date_text(days))
            }
            Kind::Time => {
                let ms = match self.sem {
                    Sem::Moment => env.now_ms.rem_euclid(DAY_MS) / 1000 * 1000,
                    _ => rng.random_range(0..86_400) * 1000,
                };
                Value::String(time_text(ms, false))
            }
            Kind::Timestamp { ltz } => {
                let ms = match self.sem {
                    Sem::BirthDate => {
                        env.now_ms - rng.random_range(18 * 365..80 * 365) * DAY_MS
                            + rng.random_range(0..DAY_MS)
                    }
                    _ => env.now_ms - rng.random_range(0..=1000),
                };
                let mut text = timestamp_text(ms, env.timestamps);
                if *ltz {
                    text.push('Z');
                }
                Value::String(text)
            }
            Kind::Array(element) => {
                let n = rng.random_range(0..=3);
                Value::Array(
                    (0..n)
                        .map(|_| element.nullable_value(rng, env, None))
                        .collect(),
                )
            }
            Kind::Multiset(element) => {
                let mut map = Map::new();
                if element.is_scalar() {
                    for _ in 0..rng.random_range(0..=3) {
                        let key = element.value(rng, env, None);
                        map.insert(text_of(key), Value::from(rng.random_range(1..=3u32)));
                    }
                }
                Value::Object(map)
            }
            Kind::Map(key, value) => {
                let mut map = Map::new();
                if key.is_scalar() {
                    for _ in 0..rng.random_range(0..=3) {
                        let k = text_of(key.value(rng, env, None));
                        map.insert(k, value.nullable_value(rng, env, None));
                    }
                }
                Value::Object(map)
            }
            Kind::Row(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (name, node) in fields {
                    map.insert(name.clone(), node.nullable_value(rng, env, None));
                }
                Value::Object(map)
            }
            Kind::Other => Value::String(String::new()),
        }
    }

    /// Whether a value of this node can be written as a JSON object key.
    fn is_scalar(&self) -> bool {
        !matches!(
            self.kind,
            Kind::Array(_) | Kind::Multiset(_) | Kind::Map(..) | Kind::Row(_) | Kind::Other
        )
    }

    fn int_value<R: Rng>(&self, min: i64, max: i64, rng: &mut R, env: &Env) -> i64 {
        let generic = (min.max(0), max.min(generic_max(max)));
        let (lo, hi) = match (&self.sem, max) {
            // Epoch milliseconds in a BIGINT, seconds in an INT.
            (Sem::Moment, i64::MAX) => (env.now_ms - 1000, env.now_ms),
            (Sem::Moment, m) if m == i64::from(i32::MAX) => {
                (env.now_ms / 1000 - 1, env.now_ms / 1000)
            }
            _ => self.sem.int_range(env).unwrap_or(generic),
        };
        let (lo, hi) = (lo.max(min), hi.min(max));
        let (lo, hi) = if lo <= hi { (lo, hi) } else { generic };
        rng.random_range(lo..=hi)
    }

    fn float_value<R: Rng>(&self, rng: &mut R, env: &Env) -> f64 {
        let (lo, hi, decimals) = match self.sem {
            Sem::Amount => (1.0, 1000.0, 2),
            Sem::Percent => (0.0, 100.0, 2),
            Sem::Rating => (1.0, 5.0, 1),
            Sem::Score => (0.0, 100.0, 1),
            Sem::Temperature => (-10.0, 40.0, 1),
            Sem::Duration => (1.0, 2000.0, 1),
            Sem::Latitude => (-90.0, 90.0, 6),
            Sem::Longitude => (-180.0, 180.0, 6),
            Sem::Moment => {
                // Epoch seconds with milliseconds.
                let ms = env.now_ms - rng.random_range(0..=1000);
                return ms as f64 / 1000.0;
            }
            _ => match self.sem.int_range(env) {
                Some((lo, hi)) => return rng.random_range(lo..=hi) as f64,
                None => (0.0, 1000.0, 2),
            },
        };
        round(rng.random_range(lo..=hi), decimals)
    }

    /// The text of a string key column for key index `k`. The form depends only on the
    /// meaning and the length, never on the value, so distinct indexes give distinct texts:
    /// the meaningful form when it always fits (`user-17`, a uuid, an email, `word-17` without
    /// a length), else the number (`17`) with room for 10 digits, else base 36 (`h`).
    fn string_key<R: Rng>(&self, k: u64, length: Option<u32>, rng: &mut R, env: &Env) -> String {
        let n = k.wrapping_add(1);
        let room = length.map_or(usize::MAX, |l| l as usize);
        match &self.sem {
            Sem::Uuid if room >= 36 => return uuid(rng),
            Sem::Email if room >= 64 => {
                let p = Persona::new(rng);
                return format!("{}.{}{n}@example.com", p.first_lower(), p.last_lower());
            }
            Sem::Id(stem) if !stem.is_empty() && room >= stem.chars().count() + 11 => {
                return format!("{stem}-{n}");
            }
            Sem::Id(_) | Sem::Uuid | Sem::Email => {}
            sem if length.is_none() => return format!("{}-{n}", sem.text(rng, env, None)),
            _ => {}
        }
        if room >= 10 {
            (k % 9_999_999_999 + 1).to_string()
        } else {
            base36(k % 36u64.pow(room as u32))
        }
    }

    /// The value of a key column that spells key index `k` out, so distinct indexes give
    /// distinct values (up to [`Node::capacity`], past which they wrap).
    fn key_value<R: Rng>(&self, k: u64, rng: &mut R, env: &Env) -> Value {
        let n = k.wrapping_add(1);
        match &self.kind {
            Kind::Int { max, .. } => Value::from((k % (*max as u64)) as i64 + 1),
            Kind::Float { single } => {
                let cap: u64 = if *single { 1 << 24 } else { 1 << 53 };
                float((k % cap) as f64 + 1.0)
            }
            Kind::Decimal { precision, scale } => {
                let digits = precision.saturating_sub(*scale);
                let text = if digits > 0 {
                    let cap = 10u64.pow(digits.min(18)) - 1;
                    let mut text = (k % cap + 1).to_string();
                    if *scale > 0 {
                        text.push('.');
                        text.extend(std::iter::repeat_n('0', *scale as usize));
                    }
                    text
                } else {
                    let cap = 10u64.pow((*scale).clamp(1, 18)) - 1;
                    format!("0.{:0>width$}", k % cap + 1, width = *scale as usize)
                };
                decimal_json(text, *precision, *scale)
            }
            Kind::String { length } => {
                Value::String(truncate(self.string_key(k, *length, rng, env), *length))
            }
            Kind::Bytes { length } => {
                let bytes = n.to_be_bytes();
                let keep = length.map_or(8, |l| (l as usize).min(8));
                Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes[8 - keep..]))
            }
            Kind::Date => Value::String(date_text(
                env.now_ms.div_euclid(DAY_MS) - (k % 36_500) as i64,
            )),
            Kind::Time => Value::String(time_text((k % 86_400) as i64 * 1000, false)),
            Kind::Timestamp { ltz } => {
                let seconds = (k % (1 << 40)) as i64;
                let mut text =
                    timestamp_text(env.now_ms / 1000 * 1000 - seconds * 1000, env.timestamps);
                if *ltz {
                    text.push('Z');
                }
                Value::String(text)
            }
            Kind::Boolean => Value::Bool(k.is_multiple_of(2)),
            _ => self.value(rng, env, None),
        }
    }
}

/// The top of the generic range of an integer type with maximum `max`.
fn generic_max(max: i64) -> i64 {
    if max <= i8::MAX.into() {
        100
    } else if max <= i16::MAX.into() {
        1000
    } else if max <= i32::MAX.into() {
        100_000
    } else {
        1_000_000
    }
}

/// What rows are made in: the instant for times, and the null ratio.
struct Env {
    now_ms: i64,
    null_ratio: f64,
    timestamps: TimestampFormat,
}

/// The person behind a row's name, email and username columns.
#[derive(Debug, Clone, Copy)]
struct Persona {
    first: &'static str,
    last: &'static str,
}

impl Persona {
    fn new<R: Rng>(rng: &mut R) -> Self {
        Self {
            first: FirstName().fake_with_rng(rng),
            last: LastName().fake_with_rng(rng),
        }
    }

    fn first_lower(&self) -> String {
        lower_alnum(self.first)
    }

    fn last_lower(&self) -> String {
        lower_alnum(self.last)
    }
}

fn lower_alnum(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

const COLORS: &[&str] = &[
    "red",
    "blue",
    "green",
    "black",
    "white",
    "yellow",
    "orange",
    "purple",
    "pink",
    "gray",
    "brown",
    "navy",
    "teal",
    "silver",
    "gold",
    "beige",
    "maroon",
    "olive",
    "turquoise",
    "violet",
];
const STATUSES: &[&str] = &[
    "pending",
    "active",
    "processing",
    "completed",
    "shipped",
    "delivered",
    "cancelled",
    "failed",
];
const EVENT_TYPES: &[&str] = &[
    "page_view",
    "click",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "login",
    "logout",
    "signup",
];
const CATEGORIES: &[&str] = &[
    "Electronics",
    "Books",
    "Clothing",
    "Home & Kitchen",
    "Sports",
    "Toys",
    "Beauty",
    "Grocery",
    "Garden",
    "Automotive",
    "Health",
    "Music",
];
const PRODUCT_ADJECTIVES: &[&str] = &[
    "Ergonomic",
    "Rustic",
    "Sleek",
    "Compact",
    "Durable",
    "Handcrafted",
    "Smart",
    "Wireless",
    "Vintage",
    "Premium",
    "Lightweight",
    "Classic",
];
const PRODUCT_MATERIALS: &[&str] = &[
    "Steel", "Wooden", "Cotton", "Leather", "Plastic", "Granite", "Bamboo", "Ceramic", "Wool",
    "Aluminum",
];
const PRODUCT_NOUNS: &[&str] = &[
    "Chair",
    "Table",
    "Lamp",
    "Backpack",
    "Keyboard",
    "Mug",
    "Jacket",
    "Headphones",
    "Watch",
    "Shoes",
    "Bottle",
    "Desk",
    "Speaker",
    "Wallet",
];
const CURRENCIES: &[&str] = &[
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "CNY", "INR", "BRL", "SEK", "MXN",
];
const GENDERS: &[&str] = &["female", "male", "female", "male", "non-binary"];
const DEVICES: &[&str] = &["ios", "android", "web", "desktop", "tablet"];
const BROWSERS: &[&str] = &["Chrome", "Safari", "Firefox", "Edge", "Opera"];
const LANGUAGES: &[&str] = &["en", "de", "fr", "es", "it", "pt", "nl", "ja", "zh", "ko"];

fn pick<R: Rng>(rng: &mut R, list: &[&'static str]) -> &'static str {
    list.choose(rng).copied().unwrap_or_default()
}

impl Sem {
    /// The integer range for integer, decimal and numeric-text forms, if the meaning has one.
    fn int_range(&self, env: &Env) -> Option<(i64, i64)> {
        let year = civil_from_days(env.now_ms.div_euclid(DAY_MS)).0;
        Some(match self {
            Sem::Id(_) => (1, 100_000),
            Sem::Amount => (1, 999),
            Sem::Quantity => (1, 10),
            Sem::Count => (0, 1000),
            Sem::Age => (18, 90),
            Sem::Rating => (1, 5),
            Sem::Score | Sem::Percent => (0, 100),
            Sem::Temperature => (-10, 40),
            Sem::Duration => (1, 2000),
            Sem::Year => (1950, year),
            Sem::Zip => (10_000, 99_999),
            Sem::Latitude => (-90, 90),
            Sem::Longitude => (-180, 180),
            Sem::Moment => (env.now_ms / 1000 - 1, env.now_ms / 1000),
            _ => return None,
        })
    }

    /// A text value. `persona` is the row's person for top-level columns.
    fn text<R: Rng>(
        &self,
        rng: &mut R,
        env: &Env,
        persona: Option<&mut Option<Persona>>,
    ) -> String {
        let person = || match persona {
            Some(slot) => *slot.get_or_insert_with(|| Persona::new(rng)),
            None => Persona::new(rng),
        };
        match self {
            Sem::Plain | Sem::Word => Word().fake_with_rng::<&str, _>(rng).to_string(),
            Sem::Id(stem) => {
                let n = rng.random_range(1..=100_000u32);
                if stem.is_empty() {
                    n.to_string()
                } else {
                    format!("{stem}-{n}")
                }
            }
            Sem::Uuid => uuid(rng),
            Sem::FirstName => person().first.to_string(),
            Sem::LastName => person().last.to_string(),
            Sem::FullName => {
                let p = person();
                format!("{} {}", p.first, p.last)
            }
            Sem::Email => {
                let p = person();
                let domain = pick(rng, &["com", "net", "org"]);
                format!("{}.{}@example.{domain}", p.first_lower(), p.last_lower())
            }
            Sem::Username => {
                let p = person();
                let n = rng.random_range(1..100u32);
                format!("{}_{}{n}", p.first_lower(), p.last_lower())
            }
            Sem::Phone => CellNumber().fake_with_rng(rng),
            Sem::Country => CountryName().fake_with_rng(rng),
            Sem::CountryCode => CountryCode().fake_with_rng(rng),
            Sem::City => CityName().fake_with_rng(rng),
            Sem::State => StateName().fake_with_rng(rng),
            Sem::Street => {
                let street: String = StreetName().fake_with_rng(rng);
                format!("{} {street}", rng.random_range(1..=9999u32))
            }
            Sem::Company => CompanyName().fake_with_rng(rng),
            Sem::Product => format!(
                "{} {} {}",
                pick(rng, PRODUCT_ADJECTIVES),
                pick(rng, PRODUCT_MATERIALS),
                pick(rng, PRODUCT_NOUNS)
            ),
            Sem::Category => pick(rng, CATEGORIES).to_string(),
            Sem::Color => pick(rng, COLORS).to_string(),
            Sem::HexColor => format!("#{:06x}", rng.random_range(0..0x100_0000u32)),
            Sem::Url => {
                let host = lower_alnum(LastName().fake_with_rng::<&str, _>(rng));
                let suffix: &str = DomainSuffix().fake_with_rng(rng);
                let path: &str = Word().fake_with_rng(rng);
                format!("https://www.{host}.{suffix}/{path}")
            }
            Sem::Domain => {
                let host = lower_alnum(LastName().fake_with_rng::<&str, _>(rng));
                let suffix: &str = DomainSuffix().fake_with_rng(rng);
                format!("{host}.{suffix}")
            }
            Sem::Ip => IPv4().fake_with_rng(rng),
            Sem::UserAgent => UserAgent().fake_with_rng::<&str, _>(rng).to_string(),
            Sem::Currency => pick(rng, CURRENCIES).to_string(),
            Sem::Amount | Sem::Percent => {
                format!("{:.2}", Node::plain(self.clone()).float_value(rng, env))
            }
            Sem::Latitude | Sem::Longitude => {
                format!("{:.6}", Node::plain(self.clone()).float_value(rng, env))
            }
            Sem::Rating | Sem::Score | Sem::Temperature | Sem::Duration => {
                format!("{:.1}", Node::plain(self.clone()).float_value(rng, env))
            }
            Sem::Quantity | Sem::Count | Sem::Age | Sem::Year | Sem::Zip => {
                let (lo, hi) = self.int_range(env).unwrap_or((0, 100));
                let n = rng.random_range(lo..=hi);
                if *self == Sem::Zip {
                    format!("{n:05}")
                } else {
                    n.to_string()
                }
            }
            Sem::Status => pick(rng, STATUSES).to_string(),
            Sem::EventType => pick(rng, EVENT_TYPES).to_string(),
            Sem::Gender => pick(rng, GENDERS).to_string(),
            Sem::JobTitle => JobTitle().fake_with_rng(rng),
            Sem::Text => Sentence(4..10).fake_with_rng(rng),
            Sem::Moment => {
                // ISO 8601 in UTC, as most producers write times in text.
                let ms = env.now_ms - rng.random_range(0..=1000);
                let mut text = timestamp_text(ms, TimestampFormat::Iso8601);
                text.push('Z');
                text
            }
            Sem::BirthDate => {
                let today = env.now_ms.div_euclid(DAY_MS);
                date_text(today - rng.random_range(18 * 365..80 * 365))
            }
            Sem::Device => pick(rng, DEVICES).to_string(),
            Sem::Browser => pick(rng, BROWSERS).to_string(),
            Sem::Language => pick(rng, LANGUAGES).to_string(),
            Sem::Hex => {
                let mut text = String::with_capacity(32);
                for _ in 0..4 {
                    let _ = write!(text, "{:08x}", rng.random::<u32>());
                }
                text
            }
            Sem::Version => format!(
                "{}.{}.{}",
                rng.random_range(1..=5u32),
                rng.random_range(0..=20u32),
                rng.random_range(0..=30u32)
            ),
            Sem::LikelyTrue => rng.random_bool(0.9).to_string(),
            Sem::LikelyFalse => rng.random_bool(0.05).to_string(),
        }
    }
}

impl Node {
    /// A scalar node of no particular type, to reuse the numeric ranges of a meaning.
    fn plain(sem: Sem) -> Self {
        Self {
            sem,
            nullable: false,
            kind: Kind::Other,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Names → meanings
// ---------------------------------------------------------------------------------------------

/// The lower-case words of a column name: `userId`, `user_id`, `UserID` → `user`, `id`.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_uppercase() && !current.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || prev.is_uppercase() && next_lower {
                out.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// What a column's name says its values are, given its type.
fn classify(name: &str, data_type: &DataType) -> Sem {
    let words = words(name);
    let Some(last) = words.last().map(String::as_str) else {
        return Sem::Plain;
    };
    let joined: String = words.concat();
    let has = |w: &str| words.iter().any(|x| x == w);
    let stem = || words[..words.len() - 1].join("-");
    let previous = words.len().checked_sub(2).map_or("", |i| words[i].as_str());
    let short_text = |max: u32| matches!(innermost(data_type), TypeKind::String { length: Some(n) } if *n <= max);
    let sem = if joined.ends_with("uuid") || joined.ends_with("guid") {
        Sem::Uuid
    } else if matches!(last, "key") && (has("api") || has("secret") || has("access")) {
        Sem::Hex
    } else if matches!(last, "id" | "ids" | "uid" | "key" | "pk" | "sku") {
        match last {
            "sku" => Sem::Id("SKU".into()),
            _ => Sem::Id(stem()),
        }
    } else if joined.contains("email") || last == "mail" {
        Sem::Email
    } else if joined.contains("useragent") {
        Sem::UserAgent
    } else if has("ip") || has("ipv4") {
        Sem::Ip
    } else if joined.ends_with("username")
        || matches!(
            joined.as_str(),
            "login" | "handle" | "nickname" | "screenname" | "user"
        )
    {
        Sem::Username
    } else if matches!(
        joined.as_str(),
        "firstname" | "fname" | "givenname" | "forename" | "first"
    ) || has("first") && last == "name"
    {
        Sem::FirstName
    } else if matches!(
        joined.as_str(),
        "lastname" | "lname" | "surname" | "familyname" | "last"
    ) || (has("last") || has("family")) && last == "name"
    {
        Sem::LastName
    } else if ["birth", "birthday", "birthdate", "dob", "born"]
        .iter()
        .any(|w| has(w))
        && last != "year"
    {
        Sem::BirthDate
    } else if matches!(last, "code" | "number" | "no" | "nr") && words.len() > 1 {
        match previous {
            "country" => Sem::CountryCode,
            "zip" | "postal" | "post" => Sem::Zip,
            "currency" => Sem::Currency,
            "color" | "colour" => Sem::HexColor,
            "phone" | "mobile" | "telephone" | "contact" | "cell" | "fax" => Sem::Phone,
            "language" | "lang" => Sem::Language,
            _ => Sem::Id(stem()),
        }
    } else if last == "name" && words.len() > 1 {
        match previous {
            "company" | "organization" | "organisation" | "org" | "business" | "brand"
            | "merchant" | "vendor" | "supplier" | "employer" | "store" | "shop" | "team"
            | "bank" => Sem::Company,
            "product" | "item" | "article" => Sem::Product,
            "city" | "town" => Sem::City,
            "country" => Sem::Country,
            "state" | "province" | "region" => Sem::State,
            "street" => Sem::Street,
            "category" | "department" => Sem::Category,
            "event" | "action" | "activity" => Sem::EventType,
            "user" | "screen" | "login" | "account" => Sem::Username,
            "host" | "domain" => Sem::Domain,
            "device" => Sem::Device,
            "browser" => Sem::Browser,
            "file" | "app" | "application" | "service" | "table" | "topic" | "job" | "task"
            | "project" | "tag" | "key" => Sem::Word,
            _ => Sem::FullName,
        }
    } else {
        words
            .iter()
            .rev()
            .enumerate()
            .find_map(|(i, w)| {
                keyword(w, i == 0).or_else(|| {
                    let trimmed = w.trim_end_matches(|c: char| c.is_ascii_digit());
                    (trimmed.len() >= 2 && trimmed != w)
                        .then(|| keyword(trimmed, i == 0))
                        .flatten()
                })
            })
            .unwrap_or(Sem::Plain)
    };
    match sem {
        Sem::Country if short_text(3) || has("iso") => Sem::CountryCode,
        Sem::Color if has("hex") || short_text(7) && !short_text(5) => Sem::HexColor,
        Sem::Language if has("code") => Sem::Language,
        sem => sem,
    }
}

/// The type under arrays and multisets (whose elements carry the column's meaning).
fn innermost(data_type: &DataType) -> &TypeKind {
    match &data_type.kind {
        TypeKind::Array(e) | TypeKind::Multiset(e) => innermost(e),
        kind => kind,
    }
}

/// The meaning of one word of a name; `last` for the name's last word.
fn keyword(word: &str, last: bool) -> Option<Sem> {
    Some(match word {
        "phone" | "mobile" | "telephone" | "tel" | "cell" | "cellphone" | "fax" | "msisdn" => {
            Sem::Phone
        }
        "country" | "nationality" => Sem::Country,
        "city" | "town" => Sem::City,
        "state" | "province" | "region" | "county" => Sem::State,
        "address" | "street" | "addr" => Sem::Street,
        "zip" | "zipcode" | "postcode" | "postal" => Sem::Zip,
        "lat" | "latitude" => Sem::Latitude,
        "lon" | "lng" | "longitude" => Sem::Longitude,
        "long" if last => Sem::Longitude,
        "company" | "organization" | "organisation" | "org" | "employer" | "merchant"
        | "vendor" | "supplier" | "brand" | "business" | "publisher" | "manufacturer"
        | "seller" | "store" | "shop" | "bank" => Sem::Company,
        "product" | "item" | "article" | "model" => Sem::Product,
        "category" | "department" | "genre" | "segment" | "section" => Sem::Category,
        "color" | "colour" => Sem::Color,
        "url" | "uri" | "website" | "link" | "homepage" | "href" | "site" | "webpage" => Sem::Url,
        "domain" | "host" | "hostname" => Sem::Domain,
        "currency" => Sem::Currency,
        "amount" | "price" | "cost" | "total" | "balance" | "revenue" | "fee" | "fees"
        | "salary" | "payment" | "subtotal" | "tax" | "discount" | "income" | "spend" | "spent"
        | "budget" | "fare" | "charge" | "refund" | "wage" | "profit" | "sales" | "paid"
        | "cents" | "usd" | "eur" | "gbp" | "bid" | "ask" => Sem::Amount,
        "quantity" | "qty" | "units" | "pieces" | "seats" => Sem::Quantity,
        "count" | "clicks" | "views" | "visits" | "impressions" | "likes" | "followers"
        | "hits" | "attempts" | "retries" | "num" | "downloads" | "shares" => Sem::Count,
        "age" => Sem::Age,
        "rating" | "stars" => Sem::Rating,
        "score" | "points" => Sem::Score,
        "percent" | "pct" | "percentage" | "ratio" | "humidity" | "probability" | "progress" => {
            Sem::Percent
        }
        "temperature" | "temp" => Sem::Temperature,
        "duration" | "latency" | "elapsed" | "took" => Sem::Duration,
        "status" => Sem::Status,
        "type" | "kind" | "action" | "event" | "activity" | "operation" | "op" => Sem::EventType,
        "gender" | "sex" => Sem::Gender,
        "title" | "job" | "role" | "occupation" | "profession" | "position" => Sem::JobTitle,
        "description" | "desc" | "comment" | "comments" | "message" | "msg" | "text" | "body"
        | "note" | "notes" | "content" | "review" | "summary" | "bio" | "reason" | "feedback"
        | "remark" | "remarks" | "details" | "subject" => Sem::Text,
        "tag" | "tags" | "label" | "labels" | "keyword" | "keywords" | "word" | "words"
        | "topic" | "hashtag" | "hashtags" => Sem::Word,
        "ts" | "timestamp" | "time" | "datetime" | "date" | "created" | "updated" | "modified"
        | "occurred" | "happened" | "ingested" | "processed" | "received" | "started" | "ended"
        | "day" | "rowtime" | "eventtime" => Sem::Moment,
        "at" if last => Sem::Moment,
        "birth" | "birthday" | "dob" | "birthdate" | "born" => Sem::BirthDate,
        "year" => Sem::Year,
        "device" | "platform" | "os" => Sem::Device,
        "browser" => Sem::Browser,
        "language" | "lang" | "locale" => Sem::Language,
        "token" | "hash" | "checksum" | "sha" | "md5" | "sha256" | "signature" | "secret"
        | "password" | "nonce" | "digest" => Sem::Hex,
        "version" => Sem::Version,
        "active" | "enabled" | "verified" | "valid" | "available" | "success" | "successful"
        | "subscribed" | "visible" | "approved" | "confirmed" | "online" => Sem::LikelyTrue,
        "deleted" | "fraud" | "fraudulent" | "error" | "failed" | "blocked" | "spam" | "banned"
        | "flagged" | "cancelled" | "canceled" | "archived" | "suspicious" => Sem::LikelyFalse,
        "name" | "fullname" => Sem::FullName,
        "email" | "mail" => Sem::Email,
        "user" | "username" | "login" if last => Sem::Username,
        "customer" | "author" | "owner" | "person" | "employee" | "contact" | "driver"
        | "passenger" | "recipient" | "sender" | "buyer" | "patient" | "student"
            if last =>
        {
            Sem::FullName
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Value helpers
// ---------------------------------------------------------------------------------------------

const DAY_MS: i64 = 86_400_000;

/// A JSON number for a finite float (0 otherwise, which cannot happen for generated values).
fn float(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::from(0), Value::Number)
}

fn round(x: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (x * factor).round() / factor
}

/// A `DECIMAL(precision, scale)` value with its integer part in `lo..=hi` (clamped to the
/// digits the type has) and random digits after the point.
fn decimal_value<R: Rng>(precision: u32, scale: u32, lo: i64, hi: i64, rng: &mut R) -> Value {
    let int_digits = precision.saturating_sub(scale);
    let max_int: i64 = if int_digits >= 18 {
        i64::MAX
    } else {
        10i64.pow(int_digits) - 1
    };
    let (mut lo, mut hi) = (lo.max(-max_int), hi.min(max_int));
    if lo > hi {
        (lo, hi) = (0, max_int.min(1000));
    }
    let int = rng.random_range(lo..=hi);
    let mut text = int.to_string();
    if scale > 0 {
        text.push('.');
        for _ in 0..scale {
            text.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
    }
    decimal_json(text, precision, scale)
}

/// A decimal's text as JSON: an integer without scale, a number up to precision 15 (exact in
/// a double), the text itself above.
fn decimal_json(text: String, precision: u32, scale: u32) -> Value {
    if scale == 0
        && let Ok(n) = text.parse::<i64>()
    {
        return Value::from(n);
    }
    if precision <= 15
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(text)
}

/// A scalar JSON value as object-key text.
fn text_of(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn fits(text: &str, length: Option<u32>) -> bool {
    length.is_none_or(|n| text.chars().count() <= n as usize)
}

fn truncate(mut text: String, length: Option<u32>) -> String {
    if let Some(n) = length
        && let Some((cut, _)) = text.char_indices().nth(n as usize)
    {
        text.truncate(cut);
    }
    text
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn uuid<R: Rng>(rng: &mut R) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `yyyy-MM-dd`, the year kept within 0000–9999.
fn date_text(days: i64) -> String {
    // 0000-01-01 and 9999-12-31 as days since the epoch.
    let (year, month, day) = civil_from_days(days.clamp(-719_528, 2_932_896));
    format!("{year:04}-{month:02}-{day:02}")
}

/// `HH:mm:ss`, or `HH:mm:ss.SSS` with `millis`, of milliseconds into a day.
fn time_text(ms_of_day: i64, millis: bool) -> String {
    let ms = ms_of_day.rem_euclid(DAY_MS);
    let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60);
    if millis {
        format!("{h:02}:{m:02}:{s:02}.{:03}", ms % 1000)
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// `yyyy-MM-dd HH:mm:ss.SSS` (UTC) of milliseconds since the epoch.
fn timestamp_text(ms: i64, timestamps: TimestampFormat) -> String {
    let mut text = date_text(ms.div_euclid(DAY_MS));
    text.push(timestamps.separator());
    text.push_str(&time_text(ms.rem_euclid(DAY_MS), true));
    text
}

// ---------------------------------------------------------------------------------------------
// Pace
// ---------------------------------------------------------------------------------------------

/// Why a rate, duration or traffic pattern does not parse, or cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PaceError {
    /// A bad rate.
    #[error(
        "rate `{text}`: {problem}; expected messages per second above 0, like 100 or 0.5, \
         or `unlimited`"
    )]
    Rate {
        /// The text given.
        text: String,
        /// What is wrong.
        problem: String,
    },
    /// A bad duration.
    #[error("duration `{text}`: {problem}; expected a duration like 30s, 5m or 1h30m")]
    Duration {
        /// The text given.
        text: String,
        /// What is wrong.
        problem: String,
    },
    /// A bad traffic-pattern window.
    #[error("traffic pattern `{part}`: {problem}; expected START-END:PERCENT%, like 30s-60s:300%")]
    Window {
        /// The window's text (the whole pattern when it is empty).
        part: String,
        /// What is wrong.
        problem: String,
    },
    /// Two windows share time.
    #[error(
        "traffic pattern windows `{first}` and `{second}` overlap; windows must not share time \
         (one may end where the next starts)"
    )]
    Overlap {
        /// The earlier window.
        first: String,
        /// The window starting inside it.
        second: String,
    },
    /// A traffic pattern without a rate to scale.
    #[error("a traffic pattern scales the rate, but the rate is unlimited; give a rate")]
    PatternWithoutRate,
}

/// The base send rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the producer takes records.
    Unlimited,
    /// This many messages per second (finite, above 0).
    PerSecond(f64),
}

impl Rate {
    /// Parses `100`, `0.5`, `1e3`, `100/s`, or `unlimited` / `max`.
    pub fn parse(text: &str) -> Result<Self, PaceError> {
        let trimmed = text.trim();
        if matches!(
            trimmed.to_ascii_lowercase().as_str(),
            "unlimited" | "max" | "inf"
        ) {
            return Ok(Self::Unlimited);
        }
        let number = trimmed.strip_suffix("/s").unwrap_or(trimmed).trim();
        let bad = |problem: &str| PaceError::Rate {
            text: text.to_string(),
            problem: problem.to_string(),
        };
        let rate: f64 = number.parse().map_err(|_| bad("not a number"))?;
        if !rate.is_finite() {
            return Err(bad("not a finite number"));
        }
        if rate <= 0.0 {
            return Err(bad("not above 0"));
        }
        Ok(Self::PerSecond(rate))
    }
}

impl FromStr for Rate {
    type Err = PaceError;

    fn from_str(s: &str) -> Result<Self, PaceError> {
        Self::parse(s)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unlimited => f.write_str("unlimited"),
            Self::PerSecond(r) => write!(f, "{r}/s"),
        }
    }
}

/// Parses a duration (`30s`, `1m30s`, `2h`, `500ms`, humantime's forms) above zero.
pub fn parse_duration(text: &str) -> Result<Duration, PaceError> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| PaceError::Duration {
        text: text.to_string(),
        problem: e.to_string(),
    })?;
    if duration.is_zero() {
        return Err(PaceError::Duration {
            text: text.to_string(),
            problem: "it is zero".into(),
        });
    }
    Ok(duration)
}

/// A traffic-pattern window: from `start` to `end` after the run starts, the rate is
/// `percent`% of the base rate (`0` pauses, `300` triples).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// When the window opens, from the run's start (inclusive).
    pub start: Duration,
    /// When it closes (exclusive).
    pub end: Duration,
    /// The rate inside, in percent of the base rate (finite, 0 or more).
    pub percent: f64,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}:{}%",
            humantime::format_duration(self.start),
            humantime::format_duration(self.end),
            self.percent
        )
    }
}

impl Window {
    /// Parses one `START-END:PERCENT%` window (`30s-60s:300%`; `0-10s:50%` starts at once).
    pub fn parse(text: &str) -> Result<Self, PaceError> {
        let bad = |problem: String| PaceError::Window {
            part: text.trim().to_string(),
            problem,
        };
        let (span, percent) = text
            .split_once(':')
            .ok_or_else(|| bad("no `:` before the percentage".into()))?;
        let (start, end) = span
            .split_once('-')
            .ok_or_else(|| bad(format!("`{}` is not START-END", span.trim())))?;
        let time = |t: &str| {
            let t = t.trim();
            humantime::parse_duration(t).map_err(|e| bad(format!("`{t}` is not a duration ({e})")))
        };
        let (start, end) = (time(start)?, time(end)?);
        let percent = percent.trim();
        let number = percent
            .strip_suffix('%')
            .ok_or_else(|| bad(format!("`{percent}` does not end in `%`")))?;
        let percent: f64 = number
            .trim()
            .parse()
            .ok()
            .filter(|p: &f64| p.is_finite() && *p >= 0.0)
            .ok_or_else(|| bad(format!("`{percent}` is not a percentage of 0 or more")))?;
        if end <= start {
            return Err(bad("it ends before it starts".into()));
        }
        Ok(Self {
            start,
            end,
            percent,
        })
    }
}

/// Parses a traffic pattern: comma-separated windows (`30s-60s:300%,90s-100s:0%`), in any
/// order, returned sorted by start. Windows must not overlap (one may end where the next
/// starts): overlapping windows are an error, since neither "the later wins" nor "they
/// multiply" is what everyone would expect.
pub fn parse_traffic_pattern(text: &str) -> Result<Vec<Window>, PaceError> {
    if text.trim().is_empty() {
        return Err(PaceError::Window {
            part: text.to_string(),
            problem: "the pattern is empty".into(),
        });
    }
    let mut windows = Vec::new();
    for part in text.split(',') {
        if part.trim().is_empty() {
            return Err(PaceError::Window {
                part: text.trim().to_string(),
                problem: "it has an empty window (two commas, or one at an end)".into(),
            });
        }
        windows.push(Window::parse(part)?);
    }
    check_windows(&mut windows)?;
    Ok(windows)
}

/// Sorts windows by start and rejects overlaps.
fn check_windows(windows: &mut [Window]) -> Result<(), PaceError> {
    windows.sort_by_key(|w| w.start);
    for pair in windows.windows(2) {
        if pair[1].start < pair[0].end {
            return Err(PaceError::Overlap {
                first: pair[0].to_string(),
                second: pair[1].to_string(),
            });
        }
    }
    Ok(())
}

/// When records are due: a base [`Rate`] scaled by traffic-pattern [`Window`]s. Record `i`
/// (from 0) is due when the number of records the rate allowed since the start reaches `i`, so
/// record 0 goes at once and the rest follow evenly (100/s: one every 10 ms). Nothing is due
/// inside a 0% window.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    rate: Rate,
    windows: Vec<Window>,
    /// Stretches of constant rate, covering all time: (start in seconds, records due before
    /// the start, rate per second). Empty when unlimited.
    segments: Vec<(f64, f64, f64)>,
}

/// Slack for float rounding when counting records at a time.
const EPSILON: f64 = 1e-9;

impl Schedule {
    /// A schedule of `rate` scaled by `windows` (any order; they must not overlap). A pattern
    /// needs a rate: windows with [`Rate::Unlimited`] are an error.
    pub fn new(rate: Rate, mut windows: Vec<Window>) -> Result<Self, PaceError> {
        check_windows(&mut windows)?;
        let base = match rate {
            Rate::Unlimited if windows.is_empty() => {
                return Ok(Self {
                    rate,
                    windows,
                    segments: Vec::new(),
                });
            }
            Rate::Unlimited => return Err(PaceError::PatternWithoutRate),
            Rate::PerSecond(r) if r.is_finite() && r > 0.0 => r,
            Rate::PerSecond(r) => {
                return Err(PaceError::Rate {
                    text: r.to_string(),
                    problem: "not a finite number above 0".into(),
                });
            }
        };
        for w in &windows {
            if !(w.percent.is_finite() && w.percent >= 0.0) || w.end <= w.start {
                return Err(PaceError::Window {
                    part: w.to_string(),
                    problem: "it is empty or its percentage is not 0 or more".into(),
                });
            }
        }
        let mut segments = Vec::with_capacity(windows.len() * 2 + 1);
        let (mut t, mut count) = (0.0f64, 0.0f64);
        for w in &windows {
            let (ws, we) = (w.start.as_secs_f64(), w.end.as_secs_f64());
            if ws > t {
                segments.push((t, count, base));
                count += (ws - t) * base;
                t = ws;
            }
            let r = base * w.percent / 100.0;
            segments.push((t, count, r));
            count += (we - t) * r;
            t = we;
        }
        segments.push((t, count, base));
        Ok(Self {
            rate,
            windows,
            segments,
        })
    }

    /// Unlimited, without windows.
    pub fn unlimited() -> Self {
        Self {
            rate: Rate::Unlimited,
            windows: Vec::new(),
            segments: Vec::new(),
        }
    }

    /// Parses the texts of `--rate` (absent: unlimited) and `--traffic-pattern`.
    pub fn parse(rate: Option<&str>, pattern: Option<&str>) -> Result<Self, PaceError> {
        let rate = rate
            .map(Rate::parse)
            .transpose()?
            .unwrap_or(Rate::Unlimited);
        let windows = pattern
            .map(parse_traffic_pattern)
            .transpose()?
            .unwrap_or_default();
        Self::new(rate, windows)
    }

    /// The base rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The windows, sorted by start.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The rate in force `elapsed` after the start (`None`: unlimited).
    pub fn rate_at(&self, elapsed: Duration) -> Option<f64> {
        self.segment_at(elapsed.as_secs_f64()).map(|s| s.2)
    }

    fn segment_at(&self, t: f64) -> Option<(f64, f64, f64)> {
        let i = self.segments.partition_point(|s| s.0 <= t);
        self.segments.get(i.checked_sub(1)?).copied()
    }

    /// How many records the rate allowed in the first `t` seconds (a real number).
    fn allowed(&self, t: f64) -> f64 {
        self.segment_at(t)
            .map_or(f64::INFINITY, |(s, c, r)| c + (t - s) * r)
    }

    /// When record `index` (from 0) is due, from the start: zero when unlimited.
    pub fn send_time(&self, index: u64) -> Duration {
        if self.segments.is_empty() {
            return Duration::ZERO;
        }
        let i = index as f64;
        // The first stretch, with a rate, that has not used up `i` records by its end.
        let n = self.segments.len();
        let mut k = self.segments.partition_point(|s| s.1 <= i + EPSILON);
        k = k.saturating_sub(1);
        loop {
            let (start, count, rate) = self.segments[k];
            let end_count = self.segments.get(k + 1).map_or(f64::INFINITY, |s| s.1);
            if rate > 0.0 && end_count > i + EPSILON || k + 1 == n {
                let secs = start + ((i - count).max(0.0) / rate);
                return Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
            }
            k += 1;
        }
    }

    /// How long to wait, `elapsed` after the start, before record `index` is due (zero: send
    /// it now).
    pub fn delay(&self, index: u64, elapsed: Duration) -> Duration {
        self.send_time(index).saturating_sub(elapsed)
    }

    /// How many records are due before `end` (records `i` with `send_time(i) < end`): what a
    /// run of that duration sends (`None` when unlimited). 100/s for 2 s is 200.
    pub fn count_before(&self, end: Duration) -> Option<u64> {
        if self.segments.is_empty() {
            return None;
        }
        let allowed = self.allowed(end.as_secs_f64());
        Some((allowed - EPSILON).ceil().max(0.0) as u64)
    }

    /// How many records are due by `elapsed` (records `i` with `send_time(i) <= elapsed`),
    /// `u64::MAX` when unlimited.
    pub fn due(&self, elapsed: Duration) -> u64 {
        if self.segments.is_empty() {
            return u64::MAX;
        }
        let before = self.count_before(elapsed).unwrap_or(u64::MAX);
        before + u64::from(self.send_time(before) <= elapsed)
    }
}

/// Follows a [`Schedule`] through a run. The caller passes the time elapsed since the run
/// started (no clock inside); [`Pacer::delay`] says how long to wait before the next record
/// and [`Pacer::sent`] counts it. A caller that falls behind (a slow broker) gets the records
/// due in the last [`Pacer::max_lag`] at once and the older backlog is dropped from the
/// schedule, so a stall is not followed by a burst and the traffic pattern stays on time.
///
/// ```
/// # use std::time::Duration;
/// # use flinkit::bridge::generate::{Pacer, Rate, Schedule};
/// let mut pacer = Pacer::new(Schedule::new(Rate::PerSecond(100.0), vec![]).unwrap());
/// assert_eq!(pacer.delay(Duration::ZERO), Duration::ZERO);
/// pacer.sent();
/// assert_eq!(pacer.delay(Duration::from_millis(4)), Duration::from_millis(6));
/// ```
#[derive(Debug, Clone)]
pub struct Pacer {
    schedule: Schedule,
    index: u64,
    max_lag: Duration,
}

impl Pacer {
    /// The backlog kept by default: 100 ms of records.
    pub const DEFAULT_MAX_LAG: Duration = Duration::from_millis(100);

    /// A pacer at the start of `schedule`.
    pub fn new(schedule: Schedule) -> Self {
        Self {
            schedule,
            index: 0,
            max_lag: Self::DEFAULT_MAX_LAG,
        }
    }

    /// The same pacer keeping a backlog of at most `max_lag`.
    pub fn with_max_lag(mut self, max_lag: Duration) -> Self {
        self.max_lag = max_lag;
        self
    }

    /// The backlog kept when behind.
    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }

    /// The schedule followed.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The schedule index of the next record (records sent plus records dropped from the
    /// backlog).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// How long to wait, `elapsed` after the start, before sending the next record (zero: send
    /// it now). When the next record is overdue by more than [`Pacer::max_lag`], the schedule
    /// skips ahead to the records due in the last `max_lag`.
    pub fn delay(&mut self, elapsed: Duration) -> Duration {
        let due = self.schedule.send_time(self.index);
        if due > elapsed {
            return due - elapsed;
        }
        if elapsed - due > self.max_lag
            && let Some(first_kept) = self.schedule.count_before(elapsed - self.max_lag)
        {
            self.index = self.index.max(first_kept);
        }
        Duration::ZERO
    }

    /// Counts one record as sent.
    pub fn sent(&mut self) {
        self.index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::Endpoint;
    use crate::bridge::table::Format;
    use crate::bridge::types;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// 2024-05-17 12:34:56.789 UTC.
    const NOW: i64 = 1_715_949_296_789;

    fn col(name: &str, ty: &str) -> Field {
        Field {
            name: name.into(),
            data_type: DataType::parse(ty).unwrap(),
        }
    }

    fn spec(columns: Vec<Field>, keys: &[&str]) -> TableSpec {
        TableSpec {
            name: "t".into(),
            endpoint: Endpoint::local_kafka(),
            topics: vec!["t".into()],
            upsert: !keys.is_empty(),
            value_fields: columns.iter().map(|c| c.name.clone()).collect(),
            columns,
            key_fields: keys.iter().map(|k| k.to_string()).collect(),
            key_format: (!keys.is_empty()).then_some(Format::Json),
            key_prefix: String::new(),
            value_format: Format::Json,
            primary_key: keys.iter().map(|k| k.to_string()).collect(),
            key_csv: None,
            value_csv: None,
            debezium_schema_include: false,
            avro: Default::default(),
            timestamps: TimestampFormat::Sql,
        }
    }

    fn options(seed: u64) -> GenerateOptions {
        GenerateOptions {
            seed: Some(seed),
            now_ms: Some(NOW),
            ..GenerateOptions::default()
        }
    }

    /// What `types::check` leaves out: lengths, digits after the point, bytes.
    fn strict(value: &Value, ty: &DataType, path: &str) -> Result<(), String> {
        let fail = |problem: String| Err(format!("{path}: {problem} for {ty}: {value}"));
        if value.is_null() {
            return if ty.nullable {
                Ok(())
            } else {
                fail("null".into())
            };
        }
        match &ty.kind {
            TypeKind::String { length: Some(n) } => {
                let text = text_of(value.clone());
                if text.chars().count() > *n as usize {
                    return fail("too long".into());
                }
            }
            TypeKind::Bytes { length } => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(value.as_str().unwrap_or("!"))
                    .map_err(|e| e.to_string())?;
                if length.is_some_and(|n| bytes.len() > n as usize) {
                    return fail("too many bytes".into());
                }
            }
            TypeKind::Decimal { precision, scale } => {
                let text = text_of(value.clone());
                let digits = text.trim_start_matches('-');
                let (mantissa, exp) = match digits.split_once(['e', 'E']) {
                    Some((m, e)) => (m, e.parse::<i64>().unwrap()),
                    None => (digits, 0),
                };
                let frac = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i64);
                if (frac - exp).max(0) > i64::from(*scale) {
                    return fail("too many digits after the point".into());
                }
                if *precision > 15 && value.is_f64() {
                    return fail("a long decimal as a double".into());
                }
            }
            TypeKind::Timestamp | TypeKind::TimestampLtz => {
                let text = value.as_str().unwrap_or("");
                let ok = text.len()
                    == if ty.kind == TypeKind::Timestamp {
                        23
                    } else {
                        24
                    };
                if !ok {
                    return fail("not yyyy-MM-dd HH:mm:ss.SSS[Z]".into());
                }
            }
            TypeKind::Array(e) => {
                for (i, item) in value.as_array().unwrap().iter().enumerate() {
                    strict(item, e, &format!("{path}[{i}]"))?;
                }
            }
            TypeKind::Multiset(e) => {
                for k in value.as_object().unwrap().keys() {
                    strict(&Value::String(k.clone()), e, &format!("{path}[{k}]"))?;
                }
            }
            TypeKind::Map(kt, vt) => {
                for (k, v) in value.as_object().unwrap() {
                    strict(&Value::String(k.clone()), kt, &format!("{path}[{k}]"))?;
                    strict(v, vt, &format!("{path}[{k}]"))?;
                }
            }
            TypeKind::Row(fields) => {
                let map = value.as_object().unwrap();
                for f in fields {
                    let v = map.get(&f.name).unwrap_or(&Value::Null);
                    strict(v, &f.data_type, &format!("{path}.{}", f.name))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Every check a generated item must pass.
    fn assert_valid(spec: &TableSpec, item: &Generated) {
        match item {
            Generated::Row(row) => {
                spec.check_row(row)
                    .unwrap_or_else(|m| panic!("{m:?} in {}", Value::Object(row.clone())));
                let names: Vec<&String> = row.keys().collect();
                let columns: Vec<&String> = spec.columns.iter().map(|c| &c.name).collect();
                assert_eq!(names, columns, "every column, in order");
                for c in &spec.columns {
                    strict(&row[&c.name], &c.data_type, &c.name).unwrap();
                }
            }
            Generated::Delete(key) => {
                let names: HashSet<&String> = key.keys().collect();
                assert_eq!(names, spec.key_fields.iter().collect());
                for k in &spec.key_fields {
                    let c = spec.column(k).unwrap();
                    assert!(!key[k].is_null());
                    types::check(&key[k], &c.data_type, spec.timestamps).unwrap();
                    strict(&key[k], &c.data_type, k).unwrap();
                }
            }
        }
    }

    #[test]
    fn timestamps_are_generated_as_the_tables_json_format_writes_them() {
        let mut table = spec(
            vec![
                col("id", "BIGINT NOT NULL"),
                col("at", "TIMESTAMP(3) NOT NULL"),
                col("seen", "TIMESTAMP_LTZ(3) NOT NULL"),
                col("happened", "ROW<at TIMESTAMP(3) NOT NULL> NOT NULL"),
            ],
            &["id"],
        );
        table.timestamps = TimestampFormat::Iso8601;
        let mut generator = Generator::for_table(&table, options(3)).unwrap();
        for _ in 0..50 {
            let item = generator.next_item();
            assert_valid(&table, &item);
            let Generated::Row(row) = item else {
                unreachable!("no tombstones asked")
            };
            for text in [&row["at"], &row["seen"], &row["happened"]["at"]] {
                assert_eq!(&text.as_str().unwrap()[10..11], "T", "{row:?}");
            }
        }
    }

    fn orders() -> TableSpec {
        spec(
            vec![
                col("order_id", "BIGINT NOT NULL"),
                col("customer_name", "STRING"),
                col("email", "VARCHAR(64)"),
                col("country_code", "CHAR(2)"),
                col("price", "DECIMAL(10, 2)"),
                col("quantity", "INT"),
                col("status", "STRING"),
                col("created_at", "TIMESTAMP(3)"),
            ],
            &["order_id"],
        )
    }

    #[test]
    fn a_fixed_seed_gives_fixed_rows() {
        let spec = orders();
        let mut generator = Generator::for_table(&spec, options(42)).unwrap();
        let rows: Vec<Value> = (0..2)
            .map(|_| Value::Object(generator.next_row()))
            .collect();
        assert_eq!(
            Value::Array(rows),
            serde_json::json!([
                {
                    "order_id": 815,
                    "customer_name": "Wilson Prohaska",
                    "email": "wilson.prohaska@example.net",
                    "country_code": "MR",
                    "price": 933.58,
                    "quantity": 1,
                    "status": "shipped",
                    "created_at": "2024-05-17 12:34:56.739"
                },
                {
                    "order_id": 577,
                    "customer_name": "Carolyne Stoltenberg",
                    "email": "carolyne.stoltenberg@example.net",
                    "country_code": "BW",
                    "price": 948.58,
                    "quantity": 7,
                    "status": "processing",
                    "created_at": "2024-05-17 12:34:56.073"
                }
            ])
        );
        let mut again = Generator::for_table(&spec, options(42)).unwrap();
        let mut other = Generator::for_table(&spec, options(43)).unwrap();
        let first: Vec<_> = (0..100).map(|_| again.next_row()).collect();
        let mut generator = Generator::for_table(&spec, options(42)).unwrap();
        assert_eq!(
            first,
            (0..100).map(|_| generator.next_row()).collect::<Vec<_>>()
        );
        assert_ne!(
            first,
            (0..100).map(|_| other.next_row()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_random_seed_is_reported_and_repeats() {
        let spec = orders();
        let mut generator = Generator::for_table(
            &spec,
            GenerateOptions {
                now_ms: Some(NOW),
                ..GenerateOptions::default()
            },
        )
        .unwrap();
        let seed = generator.seed();
        let mut again = Generator::for_table(&spec, options(seed)).unwrap();
        for _ in 0..20 {
            assert_eq!(generator.next_row(), again.next_row());
        }
    }

    #[test]
    fn names_choose_realistic_values() {
        let spec = spec(
            vec![
                col("userId", "STRING"),
                col("fullName", "STRING"),
                col("first_name", "STRING"),
                col("last_name", "STRING"),
                col("email", "STRING"),
                col("country", "STRING"),
                col("country_iso", "CHAR(2)"),
                col("phone", "STRING"),
                col("website", "STRING"),
                col("amount", "DECIMAL(8, 2)"),
                col("unit_price", "DOUBLE"),
                col("qty", "SMALLINT"),
                col("age", "TINYINT"),
                col("event_ts", "BIGINT"),
                col("ts", "TIMESTAMP_LTZ(3)"),
                col("birth_date", "DATE"),
                col("lat", "DOUBLE"),
                col("uuid", "STRING"),
                col("color", "STRING"),
                col("tags", "ARRAY<STRING>"),
            ],
            &[],
        );
        let mut generator = Generator::for_table(
            &spec,
            GenerateOptions {
                null_ratio: 0.0,
                ..options(7)
            },
        )
        .unwrap();
        for _ in 0..200 {
            let row = generator.next_row();
            assert_valid(&spec, &Generated::Row(row.clone()));
            let s = |k: &str| row[k].as_str().unwrap().to_string();
            let id = s("userId");
            let n: u32 = id.strip_prefix("user-").unwrap().parse().unwrap();
            assert!((1..=100_000).contains(&n), "{id}");
            // One person per row.
            let (first, last) = (s("first_name"), s("last_name"));
            assert_eq!(s("fullName"), format!("{first} {last}"));
            assert_eq!(
                s("email"),
                format!("{}.{}@example.", lower_alnum(&first), lower_alnum(&last))
                    + s("email").rsplit('.').next().unwrap()
            );
            assert!(s("country").len() > 3, "{}", s("country"));
            let code = s("country_iso");
            assert!(code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()));
            assert!(s("phone").chars().filter(char::is_ascii_digit).count() >= 10);
            assert!(s("website").starts_with("https://www."));
            let amount = row["amount"].as_f64().unwrap();
            assert!((1.0..1000.0).contains(&amount), "{amount}");
            assert_eq!(round(amount, 2), amount);
            let price = row["unit_price"].as_f64().unwrap();
            assert!((1.0..=1000.0).contains(&price));
            assert!((1..=10).contains(&row["qty"].as_i64().unwrap()));
            assert!((18..=90).contains(&row["age"].as_i64().unwrap()));
            let ts = row["event_ts"].as_i64().unwrap();
            assert!((NOW - 1000..=NOW).contains(&ts));
            let ltz = s("ts");
            assert!(
                ltz.starts_with("2024-05-17 12:34:5") && ltz.ends_with('Z'),
                "{ltz}"
            );
            let year: i64 = s("birth_date")[..4].parse().unwrap();
            assert!((1944..=2006).contains(&year), "{year}");
            assert!(row["lat"].as_f64().unwrap().abs() <= 90.0);
            let uuid = s("uuid");
            assert_eq!(uuid.len(), 36);
            assert_eq!(&uuid[14..15], "4");
            assert!(COLORS.contains(&s("color").as_str()));
            for tag in row["tags"].as_array().unwrap() {
                assert!(tag.as_str().unwrap().chars().all(char::is_alphabetic));
            }
        }
    }

    #[test]
    fn words_and_meanings_of_names() {
        assert_eq!(words("userId"), ["user", "id"]);
        assert_eq!(words("UserID"), ["user", "id"]);
        assert_eq!(words("URLPath"), ["url", "path"]);
        assert_eq!(words("order_line-ID2"), ["order", "line", "id2"]);
        let ty = |t: &str| DataType::parse(t).unwrap();
        let s = ty("STRING");
        assert_eq!(classify("id", &s), Sem::Id(String::new()));
        assert_eq!(classify("uid", &s), Sem::Id(String::new()));
        assert_eq!(classify("customerId", &s), Sem::Id("customer".into()));
        assert_eq!(classify("order_number", &s), Sem::Id("order".into()));
        assert_eq!(classify("name", &s), Sem::FullName);
        assert_eq!(classify("fullName", &s), Sem::FullName);
        assert_eq!(classify("user_name", &s), Sem::Username);
        assert_eq!(classify("product_name", &s), Sem::Product);
        assert_eq!(classify("company", &s), Sem::Company);
        assert_eq!(classify("e_mail", &s), Sem::Email);
        assert_eq!(classify("emailAddress", &s), Sem::Email);
        assert_eq!(classify("ip_address", &s), Sem::Ip);
        assert_eq!(classify("shipping_address", &s), Sem::Street);
        assert_eq!(classify("country", &s), Sem::Country);
        assert_eq!(classify("country", &ty("CHAR(2)")), Sem::CountryCode);
        assert_eq!(classify("country_code", &s), Sem::CountryCode);
        assert_eq!(classify("billing_city", &s), Sem::City);
        assert_eq!(classify("zip_code", &s), Sem::Zip);
        assert_eq!(classify("mobile_number", &s), Sem::Phone);
        assert_eq!(classify("price_usd", &s), Sem::Amount);
        assert_eq!(classify("temperature_c", &s), Sem::Temperature);
        assert_eq!(classify("item_count", &s), Sem::Count);
        assert_eq!(classify("created_at", &s), Sem::Moment);
        assert_eq!(classify("eventTime", &s), Sem::Moment);
        assert_eq!(classify("is_deleted", &s), Sem::LikelyFalse);
        assert_eq!(classify("isActive", &s), Sem::LikelyTrue);
        assert_eq!(classify("session_uuid", &s), Sem::Uuid);
        assert_eq!(classify("api_key", &s), Sem::Hex);
        assert_eq!(classify("address2", &s), Sem::Street);
        assert_eq!(classify("foo", &s), Sem::Plain);
        assert_eq!(classify("", &s), Sem::Plain);
    }

    #[test]
    fn types_decide_the_form() {
        let spec = spec(
            vec![
                col("a", "TINYINT NOT NULL"),
                col("b", "SMALLINT NOT NULL"),
                col("c", "DECIMAL(4, 3) NOT NULL"),
                col("d", "DECIMAL(20, 4) NOT NULL"),
                col("e", "DECIMAL(5, 0) NOT NULL"),
                col("name", "VARCHAR(3) NOT NULL"),
                col("f", "BINARY(4) NOT NULL"),
                col("g", "DATE NOT NULL"),
                col("h", "TIME(0) NOT NULL"),
                col("i", "TIMESTAMP(3) NOT NULL"),
                col("j", "BOOLEAN NOT NULL"),
                col("k", "MULTISET<INT> NOT NULL"),
                col("m", "MAP<DATE, ROW<x INT NOT NULL, email STRING>> NOT NULL"),
                col("n", "INTERVAL DAY"),
                col("o", "INTERVAL DAY NOT NULL"),
            ],
            &[],
        );
        let mut generator = Generator::for_table(&spec, options(3)).unwrap();
        for _ in 0..300 {
            let row = generator.next_row();
            assert_valid(&spec, &Generated::Row(row.clone()));
            assert!(row.values().filter(|v| v.is_null()).count() == 1, "only n");
            assert!(row["d"].is_string(), "precision 20 keeps its digits");
            assert!(row["e"].is_i64());
            assert!(row["name"].as_str().unwrap().chars().count() <= 3);
            assert_eq!(row["g"].as_str().unwrap().len(), 10);
            assert_eq!(row["h"].as_str().unwrap().len(), 8);
            assert!(row["i"].as_str().unwrap().starts_with("2024-05-17 12:34:5"));
            assert_eq!(row["o"], Value::String(String::new()));
        }
    }

    #[test]
    fn nulls_follow_the_ratio_and_spare_keys_and_not_null() {
        let spec = spec(
            vec![
                col("id", "INT"),
                col("a", "STRING"),
                col("b", "STRING NOT NULL"),
            ],
            &["id"],
        );
        let mut generator = Generator::for_table(&spec, options(1)).unwrap();
        let rows: Vec<_> = (0..10_000).map(|_| generator.next_row()).collect();
        let nulls = |k: &str| rows.iter().filter(|r| r[k].is_null()).count();
        assert_eq!(nulls("id"), 0);
        assert_eq!(nulls("b"), 0);
        assert!((400..600).contains(&nulls("a")), "{}", nulls("a"));
        let mut generator = Generator::for_table(
            &spec,
            GenerateOptions {
                null_ratio: 0.0,
                ..options(1)
            },
        )
        .unwrap();
        assert!((0..1000).all(|_| !generator.next_row()["a"].is_null()));
    }

    #[test]
    fn a_key_space_bounds_the_distinct_keys() {
        let spec = spec(
            vec![col("user_id", "STRING"), col("score", "INT")],
            &["user_id"],
        );
        let mut generator = Generator::for_table(
            &spec,
            GenerateOptions {
                key_space: KeySpace::Distinct(10),
                ..options(5)
            },
        )
        .unwrap();
        let keys: HashSet<Value> = (0..1000)
            .map(|_| generator.next_row()["user_id"].clone())
            .collect();
        assert_eq!(keys.len(), 10);
        let expected: HashSet<Value> = (1..=10).map(|n| Value::from(format!("user-{n}"))).collect();
        assert_eq!(keys, expected);
        assert_eq!(KeySpace::for_rows(Some(1000)), KeySpace::Distinct(250));
        assert_eq!(KeySpace::for_rows(Some(2)), KeySpace::Distinct(1));
        assert_eq!(KeySpace::for_rows(None), KeySpace::Distinct(1000));
    }

    #[test]
    fn unique_keys_are_all_new_even_composite_and_short() {
        let spec = spec(
            vec![
                col("tenant_id", "INT NOT NULL"),
                col("code", "CHAR(2) NOT NULL"),
                col("v", "DOUBLE"),
            ],
            &["tenant_id", "code"],
        );
        let mut generator = Generator::for_table(
            &spec,
            GenerateOptions {
                key_space: KeySpace::Unique,
                ..options(9)
            },
        )
        .unwrap();
        // INT holds more keys than CHAR(2) (36² = 1296), so tenant_id spells the index out.
        let keys: HashSet<(Value, Value)> = (0..2000)
            .map(|_| {
                let r = generator.next_row();
                (r["tenant_id"].clone(), r["code"].clone())
            })
            .collect();
        assert_eq!(keys.len(), 2000);
        // A short string key spells indexes in base 36 and wraps past its capacity.
        let spec = self::spec(vec![col("code", "CHAR(1) NOT NULL")], &["code"]);
        let mut generator = Generator::for_table(
            &spec,
            GenerateOptions {
                key_space: KeySpace::Unique,
                ..options(9)
            },
        )
        .unwrap();
        let codes: Vec<String> = (0..40)
            .map(|_| generator.next_row()["code"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(codes[..12].concat(), "0123456789ab");
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 36);
    }

    #[test]
    fn keys_follow_their_index_in_any_column_order() {
        // Key order differs from column order.
        let spec = spec(
            vec![
                col("day", "DATE NOT NULL"),
                col("v", "INT"),
                col("sensor_id", "BIGINT NOT NULL"),
            ],
            &["sensor_id", "day"],
        );
        let mut generator = Generator::for_table(
            &spec,
            GenerateOptions {
                key_space: KeySpace::Distinct(3),
                ..options(11)
            },
        )
        .unwrap();
        let mut by_sensor: HashMap<i64, Value> = HashMap::new();
        for _ in 0..300 {
            let row = generator.next_row();
            assert_valid(&spec, &Generated::Row(row.clone()));
            let sensor = row["sensor_id"].as_i64().unwrap();
            assert!((1..=3).contains(&sensor));
            // The same key index always gives the same day.
            let day = by_sensor
                .entry(sensor)
                .or_insert_with(|| row["day"].clone());
            assert_eq!(*day, row["day"]);
        }
    }

    #[test]
    fn tombstones_delete_live_keys() {
        let spec = spec(
            vec![col("id", "BIGINT NOT NULL"), col("name", "STRING")],
            &["id"],
        );
        let mut generator = Generator::for_table(
            &spec,
            GenerateOptions {
                key_space: KeySpace::Distinct(50),
                tombstone_ratio: 0.2,
                ..options(2)
            },
        )
        .unwrap();
        let mut live: HashSet<i64> = HashSet::new();
        let mut deletes = 0;
        for item in generator.by_ref().take(5000) {
            assert_valid(&spec, &item);
            let id = item.fields()["id"].as_i64().unwrap();
            match item {
                Generated::Row(_) => {
                    live.insert(id);
                }
                Generated::Delete(key) => {
                    assert_eq!(key.len(), 1);
                    assert!(live.remove(&id), "deleted {id}, which is not live");
                    deletes += 1;
                }
            }
        }
        assert!((900..1100).contains(&deletes), "{deletes}");
        // Off by default: no deletes.
        let mut generator = Generator::for_table(&spec, options(2)).unwrap();
        assert!(generator.by_ref().take(1000).all(|i| !i.is_delete()));
    }

    #[test]
    fn bad_options_are_errors() {
        let columns = vec![col("id", "INT"), col("v", "INT")];
        let keys = vec!["id".to_string()];
        let err = |cols: &[Field], keys: &[String], o: GenerateOptions| {
            Generator::new(cols, keys, o).unwrap_err().to_string()
        };
        assert_eq!(
            err(&columns, &["nope".into()], options(0)),
            "key column `nope` is not a physical column"
        );
        assert_eq!(
            err(&columns, &["id".into(), "id".into()], options(0)),
            "key column `id` is named twice"
        );
        assert_eq!(
            err(
                &columns,
                &keys,
                GenerateOptions {
                    null_ratio: 1.5,
                    ..options(0)
                }
            ),
            "null ratio 1.5 is not between 0 and 1"
        );
        assert_eq!(
            err(
                &columns,
                &keys,
                GenerateOptions {
                    key_space: KeySpace::Distinct(0),
                    ..options(0)
                }
            ),
            "the key space must hold at least one key"
        );
        assert_eq!(
            err(
                &columns,
                &[],
                GenerateOptions {
                    tombstone_ratio: 0.1,
                    ..options(0)
                }
            ),
            "tombstones delete keys, but the table has no key columns"
        );
    }

    #[test]
    fn rows_fit_a_table_from_sql() {
        use crate::sql::Script;
        use crate::vars::{Vars, substitute};
        let sql = "CREATE TABLE payments (payment_id STRING, user_id BIGINT NOT NULL, \
                   amount DECIMAL(12, 2), currency CHAR(3), card ROW<brand STRING, last4 CHAR(4)>, \
                   items ARRAY<ROW<sku STRING, qty INT, price DOUBLE>>, attrs MAP<STRING, STRING>, \
                   paid_at TIMESTAMP_LTZ(3), ts AS PROCTIME(), \
                   PRIMARY KEY (payment_id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', \
                   'topic' = 'payments', 'properties.bootstrap.servers' = 'x', \
                   'key.format' = 'json', 'value.format' = 'json')";
        let script = Script::parse_str(sql).unwrap();
        let values = substitute(&script, &Vars::new([]));
        let spec = TableSpec::from_script(&script, &values, "payments").unwrap();
        let mut generator = Generator::for_table(
            &spec,
            GenerateOptions {
                tombstone_ratio: 0.1,
                ..options(4)
            },
        )
        .unwrap();
        for item in generator.by_ref().take(2000) {
            assert_valid(&spec, &item);
        }
        let row = generator.next_row();
        assert!(row["payment_id"].as_str().unwrap().starts_with("payment-"));
        assert!(CURRENCIES.contains(&row["currency"].as_str().unwrap()));
    }

    #[test]
    fn dates_and_times_are_flink_text() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(19_782), "2024-02-29");
        assert_eq!(date_text(-1), "1969-12-31");
        assert_eq!(date_text(i64::MAX), "9999-12-31");
        assert_eq!(
            timestamp_text(NOW, TimestampFormat::Sql),
            "2024-05-17 12:34:56.789"
        );
        assert_eq!(
            timestamp_text(NOW, TimestampFormat::Iso8601),
            "2024-05-17T12:34:56.789"
        );
        assert_eq!(time_text(3_723_004, false), "01:02:03");
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36 * 36 - 1), "zz");
        assert_eq!(truncate("héllo".into(), Some(2)), "hé");
    }

    fn leaf_type() -> impl Strategy<Value = TypeKind> {
        prop_oneof![
            Just(TypeKind::Boolean),
            Just(TypeKind::TinyInt),
            Just(TypeKind::SmallInt),
            Just(TypeKind::Int),
            Just(TypeKind::BigInt),
            Just(TypeKind::Float),
            Just(TypeKind::Double),
            (1u32..=38)
                .prop_flat_map(|p| (Just(p), 0..=p))
                .prop_map(|(precision, scale)| TypeKind::Decimal { precision, scale }),
            proptest::option::of(0u32..=12).prop_map(|length| TypeKind::String { length }),
            proptest::option::of(1u32..=20).prop_map(|length| TypeKind::Bytes { length }),
            Just(TypeKind::Date),
            Just(TypeKind::Time),
            Just(TypeKind::Timestamp),
            Just(TypeKind::TimestampLtz),
            Just(TypeKind::Other("INTERVAL DAY".into())),
        ]
    }

    const NAMES: &[&str] = &[
        "id",
        "user_id",
        "orderId",
        "uid",
        "uuid",
        "name",
        "fullName",
        "first_name",
        "email",
        "username",
        "country",
        "country_code",
        "city",
        "state",
        "address",
        "zip",
        "phone",
        "lat",
        "lon",
        "company",
        "product",
        "category",
        "color",
        "url",
        "ip",
        "user_agent",
        "currency",
        "amount",
        "price",
        "quantity",
        "count",
        "age",
        "rating",
        "score",
        "percent",
        "temperature",
        "latency_ms",
        "status",
        "event_type",
        "gender",
        "title",
        "comment",
        "tags",
        "ts",
        "created_at",
        "birth_date",
        "year",
        "device",
        "browser",
        "language",
        "token",
        "version",
        "is_active",
        "is_deleted",
        "sku",
        "x",
    ];

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(NAMES).prop_map(String::from),
            "[a-z][a-zA-Z0-9_]{0,10}",
        ]
    }

    fn data_type() -> impl Strategy<Value = DataType> {
        let leaf =
            (leaf_type(), any::<bool>()).prop_map(|(kind, nullable)| DataType { kind, nullable });
        leaf.prop_recursive(3, 24, 4, |inner| {
            let wrap = |kind: TypeKind, nullable: bool| DataType { kind, nullable };
            prop_oneof![
                (inner.clone(), any::<bool>())
                    .prop_map(move |(e, n)| wrap(TypeKind::Array(Box::new(e)), n)),
                (inner.clone(), any::<bool>())
                    .prop_map(move |(e, n)| wrap(TypeKind::Multiset(Box::new(e)), n)),
                (inner.clone(), inner.clone(), any::<bool>())
                    .prop_map(move |(k, v, n)| wrap(TypeKind::Map(Box::new(k), Box::new(v)), n)),
                (
                    proptest::collection::vec((name(), inner), 0..4),
                    any::<bool>()
                )
                    .prop_map(move |(fields, n)| {
                        let mut seen = HashSet::new();
                        let fields = fields
                            .into_iter()
                            .filter(|(name, _)| seen.insert(name.clone()))
                            .map(|(name, data_type)| Field { name, data_type })
                            .collect();
                        wrap(TypeKind::Row(fields), n)
                    }),
            ]
        })
    }

    fn schema() -> impl Strategy<Value = (Vec<Field>, Vec<String>)> {
        proptest::collection::vec((name(), data_type(), any::<bool>()), 1..8).prop_map(|cols| {
            let mut seen = HashSet::new();
            let mut keys = Vec::new();
            let mut fields = Vec::new();
            for (name, data_type, key) in cols {
                if seen.insert(name.clone()) {
                    if key {
                        keys.push(name.clone());
                    }
                    fields.push(Field { name, data_type });
                }
            }
            (fields, keys)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn every_generated_item_passes_the_table_checks(
            (columns, keys) in schema(),
            seed in any::<u64>(),
            null_ratio in prop_oneof![Just(0.0), Just(0.05), 0.0..=1.0f64],
            unique in any::<bool>(),
            pool in 1u64..50,
            tombstones in prop_oneof![Just(0.0), 0.0..=0.5f64],
        ) {
            let key_names: Vec<&str> = keys.iter().map(String::as_str).collect();
            let spec = spec(columns, &key_names);
            let options = GenerateOptions {
                seed: Some(seed),
                null_ratio,
                key_space: if unique { KeySpace::Unique } else { KeySpace::Distinct(pool) },
                tombstone_ratio: if keys.is_empty() { 0.0 } else { tombstones },
                now_ms: None,
            };
            let mut generator = Generator::for_table(&spec, options).unwrap();
            for item in generator.by_ref().take(40) {
                assert_valid(&spec, &item);
            }
        }
    }

    // ----- pace -----

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn rates_parse() {
        assert_eq!(Rate::parse("100"), Ok(Rate::PerSecond(100.0)));
        assert_eq!(Rate::parse(" 0.5 "), Ok(Rate::PerSecond(0.5)));
        assert_eq!(Rate::parse("1e3/s"), Ok(Rate::PerSecond(1000.0)));
        assert_eq!("unlimited".parse(), Ok(Rate::Unlimited));
        assert_eq!(
            Rate::parse("0").unwrap_err().to_string(),
            "rate `0`: not above 0; expected messages per second above 0, like 100 or 0.5, \
             or `unlimited`"
        );
        assert!(Rate::parse("-3").is_err());
        assert!(Rate::parse("NaN").is_err());
        assert!(
            Rate::parse("fast")
                .unwrap_err()
                .to_string()
                .contains("not a number")
        );
        assert_eq!(parse_duration("1m30s"), Ok(secs(90)));
        assert_eq!(
            parse_duration("30").unwrap_err().to_string(),
            "duration `30`: time unit needed, for example 30sec or 30ms; expected a duration \
             like 30s, 5m or 1h30m"
        );
        assert!(
            parse_duration("0s")
                .unwrap_err()
                .to_string()
                .contains("it is zero")
        );
    }

    #[test]
    fn traffic_patterns_parse() {
        let windows = parse_traffic_pattern("90s-100s:0%, 30s-60s:300%").unwrap();
        assert_eq!(
            windows,
            [
                Window {
                    start: secs(30),
                    end: secs(60),
                    percent: 300.0
                },
                Window {
                    start: secs(90),
                    end: secs(100),
                    percent: 0.0
                },
            ]
        );
        assert_eq!(windows[0].to_string(), "30s-1m:300%");
        assert_eq!(Window::parse("0-1m:50%").unwrap().start, Duration::ZERO);
        let err = |text: &str| parse_traffic_pattern(text).unwrap_err().to_string();
        assert_eq!(
            err("30s-60:300%"),
            "traffic pattern `30s-60:300%`: `60` is not a duration (time unit needed, for \
             example 60sec or 60ms); expected START-END:PERCENT%, like 30s-60s:300%"
        );
        assert_eq!(
            err("30s-60s:300"),
            "traffic pattern `30s-60s:300`: `300` does not end in `%`; expected \
             START-END:PERCENT%, like 30s-60s:300%"
        );
        assert!(err("30s:300%").contains("`30s` is not START-END"));
        assert!(err("30s-60s").contains("no `:` before the percentage"));
        assert!(err("60s-30s:100%").contains("it ends before it starts"));
        assert!(err("1s-2s:-5%").contains("`-5%` is not a percentage of 0 or more"));
        assert!(err("1s-2s:5%,").contains("empty window"));
        assert!(err(" ").contains("the pattern is empty"));
        assert_eq!(
            err("0s-60s:200%,30s-90s:50%"),
            "traffic pattern windows `0s-1m:200%` and `30s-1m 30s:50%` overlap; windows must \
             not share time (one may end where the next starts)"
        );
        assert!(parse_traffic_pattern("0s-30s:200%,30s-60s:50%").is_ok());
    }

    #[test]
    fn a_steady_rate_spreads_records_evenly() {
        let schedule = Schedule::parse(Some("100"), None).unwrap();
        assert_eq!(schedule.send_time(0), Duration::ZERO);
        assert_eq!(schedule.send_time(1), ms(10));
        assert_eq!(schedule.send_time(199), ms(1990));
        assert_eq!(schedule.count_before(secs(2)), Some(200));
        assert_eq!(schedule.due(ms(1999)), 200);
        assert_eq!(schedule.due(secs(2)), 201);
        assert_eq!(schedule.delay(5, ms(42)), ms(8));
        assert_eq!(schedule.delay(5, ms(60)), Duration::ZERO);
        assert_eq!(schedule.rate_at(secs(1)), Some(100.0));
        // No two records closer than 1/rate: no bursts.
        let times: Vec<Duration> = (0..1000).map(|i| schedule.send_time(i)).collect();
        assert!(
            times
                .windows(2)
                .all(|w| w[1] - w[0] >= Duration::from_micros(9_999))
        );
        let slow = Schedule::new(Rate::PerSecond(0.5), vec![]).unwrap();
        assert_eq!(slow.send_time(3), secs(6));
    }

    #[test]
    fn a_window_scales_the_rate_inside_it() {
        let schedule = Schedule::parse(Some("100"), Some("30s-60s:300%,90s-100s:0%")).unwrap();
        let count = |a: u64, b: u64| {
            schedule.count_before(secs(b)).unwrap() - schedule.count_before(secs(a)).unwrap()
        };
        assert_eq!(count(0, 30), 3000);
        assert_eq!(count(30, 60), 9000);
        assert_eq!(count(60, 90), 3000);
        assert_eq!(count(90, 100), 0);
        assert_eq!(count(100, 110), 1000);
        assert_eq!(schedule.rate_at(secs(45)), Some(300.0));
        assert_eq!(schedule.rate_at(secs(95)), Some(0.0));
        // Inside the 300% window records are 1/300 s apart.
        let i = schedule.count_before(secs(40)).unwrap();
        let gap = schedule.send_time(i + 1) - schedule.send_time(i);
        assert!(gap.abs_diff(Duration::from_nanos(3_333_333)) < Duration::from_nanos(10));
        // Nothing is sent during the pause; the next record goes when it ends.
        let first_after = schedule.count_before(secs(90)).unwrap();
        assert!(schedule.send_time(first_after - 1) < secs(90));
        assert_eq!(schedule.send_time(first_after), secs(100));
        assert!((0..20_000).all(|i| {
            let t = schedule.send_time(i);
            !(t > secs(90) && t < secs(100))
        }));
        assert_eq!(schedule.due(secs(95)), first_after);
    }

    #[test]
    fn a_pattern_starting_with_a_pause() {
        let schedule = Schedule::parse(Some("10"), Some("0s-5s:0%")).unwrap();
        assert_eq!(schedule.send_time(0), secs(5));
        assert_eq!(schedule.send_time(10), secs(6));
        assert_eq!(schedule.count_before(secs(5)), Some(0));
        assert_eq!(schedule.count_before(secs(6)), Some(10));
    }

    #[test]
    fn unlimited_has_no_waits_and_no_pattern() {
        let schedule = Schedule::parse(None, None).unwrap();
        assert_eq!(schedule, Schedule::unlimited());
        assert_eq!(schedule.send_time(1_000_000), Duration::ZERO);
        assert_eq!(schedule.count_before(secs(10)), None);
        assert_eq!(schedule.due(Duration::ZERO), u64::MAX);
        assert_eq!(schedule.rate_at(secs(1)), None);
        assert_eq!(
            Schedule::parse(Some("unlimited"), Some("1s-2s:0%")),
            Err(PaceError::PatternWithoutRate)
        );
    }

    #[test]
    fn a_pacer_waits_and_drops_an_old_backlog() {
        let mut pacer = Pacer::new(Schedule::parse(Some("100"), None).unwrap());
        assert_eq!(pacer.delay(Duration::ZERO), Duration::ZERO);
        pacer.sent();
        assert_eq!(pacer.delay(ms(3)), ms(7));
        assert_eq!(pacer.delay(ms(10)), Duration::ZERO);
        pacer.sent();
        // A 2 s stall: only the records due in the last 100 ms (1.92 s to 2.02 s) are owed.
        assert_eq!(pacer.delay(ms(2020)), Duration::ZERO);
        assert_eq!(pacer.index(), 192);
        let mut burst = 0;
        while pacer.delay(ms(2020)) == Duration::ZERO {
            pacer.sent();
            burst += 1;
        }
        assert_eq!(burst, 11);
        assert_eq!(pacer.delay(ms(2020)), ms(10));
        // A longer allowance keeps more.
        let mut pacer =
            Pacer::new(Schedule::parse(Some("100"), None).unwrap()).with_max_lag(secs(5));
        pacer.delay(secs(2));
        assert_eq!(pacer.index(), 0);
        // Unlimited never waits.
        let mut pacer = Pacer::new(Schedule::unlimited());
        assert_eq!(pacer.delay(secs(1)), Duration::ZERO);
    }

    /// Rows per second for a 6-column table (run in release:
    /// `cargo test --release --lib bridge::generate::tests::speed -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn speed() {
        let spec = spec(
            vec![
                col("id", "BIGINT NOT NULL"),
                col("name", "STRING"),
                col("email", "STRING"),
                col("amount", "DECIMAL(10, 2)"),
                col("country", "STRING"),
                col("created_at", "TIMESTAMP_LTZ(3)"),
            ],
            &["id"],
        );
        let n = 1_000_000;
        let mut generator = Generator::for_table(&spec, GenerateOptions::default()).unwrap();
        let start = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..n {
            bytes += generator.next_row().len();
        }
        let gen_secs = start.elapsed().as_secs_f64();
        let start = std::time::Instant::now();
        for _ in 0..n {
            bytes += serde_json::to_vec(&generator.next_row()).unwrap().len();
        }
        let json_secs = start.elapsed().as_secs_f64();
        println!(
            "{n} rows: generate {:.0} rows/s; generate + serialize {:.0} rows/s ({bytes})",
            n as f64 / gen_secs,
            n as f64 / json_secs
        );
    }
}
