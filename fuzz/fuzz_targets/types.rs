//! Fuzzes the column type parser that `produce --table` and the bridge codecs use: any text must
//! parse or fail with an error, never overflow the stack, and a parsed type must print and
//! check a value without panicking.
#![no_main]

use flinkit::bridge::types::{DataType, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(data_type) = DataType::parse(text) {
        let _ = data_type.to_string();
        let _ = check(&serde_json::Value::Null, &data_type);
        let _ = check(&serde_json::json!({"a": [1, "x", {"b": null}]}), &data_type);
    }
});
