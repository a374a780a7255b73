//! `config:` into a provider's own type: the host renders every value as a
//! string, so each one is parsed as the field's type asks.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

/// Why `config:` does not fit the provider's type: a message that names the
/// key.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl de::Error for ConfigError {
    fn custom<T: fmt::Display>(message: T) -> ConfigError {
        ConfigError(message.to_string())
    }

    // The same words as `Config::expect_keys`, so both ways read alike.
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> ConfigError {
        ConfigError(if expected.is_empty() {
            format!("this provider takes no configuration, got `{field}`")
        } else {
            format!(
                "unknown config key `{field}` (expected {})",
                expected.join(", ")
            )
        })
    }

    fn missing_field(field: &'static str) -> ConfigError {
        ConfigError(format!("config.{field} is required"))
    }
}

/// The whole map: a struct (or a map) of keys.
pub struct Pairs<'a> {
    /// The pairs, each key once (the last one written wins).
    pub pairs: Vec<(&'a str, &'a str)>,
}

impl<'de> de::Deserializer<'de> for Pairs<'de> {
    type Error = ConfigError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_map(Entries {
            pairs: self.pairs.into_iter(),
            value: None,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Entries<'a> {
    pairs: std::vec::IntoIter<(&'a str, &'a str)>,
    value: Option<(&'a str, &'a str)>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = ConfigError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ConfigError> {
        let Some((key, value)) = self.pairs.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        let key: StrDeserializer<'de, ConfigError> = key.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ConfigError> {
        let Some((key, value)) = self.value.take() else {
            return Err(ConfigError("a config value came before its key".into()));
        };
        seed.deserialize(Value { key, value })
    }
}

/// One value, parsed as the field's type asks.
struct Value<'a> {
    key: &'a str,
    value: &'a str,
}

impl Value<'_> {
    fn expected(&self, what: &str) -> ConfigError {
        ConfigError(format!(
            "config.{} is {:?}; it must be {what}",
            self.key, self.value
        ))
    }

    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, ConfigError> {
        self.value.trim().parse().map_err(|_| self.expected(what))
    }
}

/// The integer and float types, each parsed from the text.
macro_rules! numbers {
    ($($method:ident $visit:ident $type:ty: $what:literal),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
            visitor.$visit(self.parse::<$type>($what)?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value<'de> {
    type Error = ConfigError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_borrowed_str(self.value)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        match self.value.trim() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(self.expected("true or false")),
        }
    }

    numbers! {
        deserialize_u8 visit_u8 u8: "a whole number from 0 to 255",
        deserialize_u16 visit_u16 u16: "a whole number from 0 to 65535",
        deserialize_u32 visit_u32 u32: "a whole number, 0 or more",
        deserialize_u64 visit_u64 u64: "a whole number, 0 or more",
        deserialize_i32 visit_i32 i32: "a whole number",
        deserialize_i64 visit_i64 i64: "a whole number",
        deserialize_f64 visit_f64 f64: "a number",
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        let trimmed = self.value.trim();
        if !variants.contains(&trimmed) {
            let choices: Vec<String> = variants.iter().map(|v| format!("`{v}`")).collect();
            return Err(self.expected(&format!("one of {}", choices.join(", "))));
        }
        let variant: StrDeserializer<'de, ConfigError> = trimmed.into_deserializer();
        visitor.visit_enum(variant)
    }

    forward_to_deserialize_any! {
        i8 i16 i128 u128 f32 char str string bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct identifier ignored_any
    }
}
