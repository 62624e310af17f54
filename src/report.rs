//! A JSON-shaped value that reports are composed in: the CLI writes it as JSON text
//! ([`Value::render`]), the Python package turns it into dicts and lists. One composition of each
//! report's keys serves both (`monge fit --json` and `monge.fit(...).report`, `monge eval --json` and
//! `monge.evaluate`).
//!
//! Objects keep their keys in insertion order. A non-finite number is written as `null` (JSON has no
//! NaN); a count ([`Value::Int`]) is written as the integer it is.

use std::fmt::Write;

/// A JSON-shaped value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A count (a whole number in Python; in JSON text as [`Value::Num`] of the same value).
    Int(u64),
    /// A number (`null` when not finite).
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Value>),
    /// An object with keys in insertion order.
    Obj(Vec<(String, Value)>),
}

impl Value {
    /// An empty object.
    pub fn obj() -> Self {
        Value::Obj(Vec::new())
    }

    /// Sets `key` to `value` in an object: replaces an earlier value of `key`, else appends (no-op on
    /// other variants).
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        if let Value::Obj(kv) = self {
            let value = value.into();
            match kv.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => kv.push((key.to_string(), value)),
            }
        }
        self
    }

    /// Builder form of [`Value::set`].
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    /// The value of `key` in an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Obj(kv) => kv.iter().find_map(|(k, v)| (k == key).then_some(v)),
            _ => None,
        }
    }

    /// The number `key` of an object (a count as a number), None when absent, null or not a number.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    /// This value as a number (a count as a number).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The compact JSON text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    fn write(&self, s: &mut String) {
        match self {
            Value::Null => s.push_str("null"),
            Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => Value::Num(*i as f64).write(s),
            Value::Num(x) => {
                if x.is_finite() {
                    if x.fract() == 0.0 && x.abs() < 1e15 {
                        let _ = write!(s, "{}", *x as i64);
                    } else {
                        let _ = write!(s, "{x:?}");
                    }
                } else {
                    s.push_str("null");
                }
            }
            Value::Str(t) => {
                s.push('"');
                for c in t.chars() {
                    match c {
                        '"' => s.push_str("\\\""),
                        '\\' => s.push_str("\\\\"),
                        '\n' => s.push_str("\\n"),
                        '\r' => s.push_str("\\r"),
                        '\t' => s.push_str("\\t"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(s, "\\u{:04x}", c as u32);
                        }
                        c => s.push(c),
                    }
                }
                s.push('"');
            }
            Value::Arr(v) => {
                s.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    x.write(s);
                }
                s.push(']');
            }
            Value::Obj(v) => {
                s.push('{');
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    Value::Str(k.clone()).write(s);
                    s.push(':');
                    x.write(s);
                }
                s.push('}');
            }
        }
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Num(x)
    }
}
impl From<usize> for Value {
    fn from(x: usize) -> Self {
        Value::Int(x as u64)
    }
}
impl From<u64> for Value {
    fn from(x: u64) -> Self {
        Value::Int(x)
    }
}
impl From<bool> for Value {
    fn from(x: bool) -> Self {
        Value::Bool(x)
    }
}
impl From<&str> for Value {
    fn from(x: &str) -> Self {
        Value::Str(x.to_string())
    }
}
impl From<String> for Value {
    fn from(x: String) -> Self {
        Value::Str(x)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(x: Option<T>) -> Self {
        x.map_or(Value::Null, Into::into)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Arr(v.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::Value;

    #[test]
    fn a_count_is_written_as_the_number_it_is() {
        let v = Value::obj()
            .with("n", 3usize)
            .with("x", 3.0)
            .with("big", 1u64 << 60)
            .with("nan", f64::NAN);
        assert_eq!(
            v.render(),
            r#"{"n":3,"x":3,"big":1.152921504606847e18,"nan":null}"#
        );
        assert_eq!(v.num("n"), Some(3.0));
        // set replaces a key's value in place
        assert_eq!(v.with("n", 4usize).render().find(r#""n":4"#), Some(1));
    }
}
