//! An order-preserving document tree for JSON and YAML files.
//!
//! Why not `serde_json::Value` directly: the tree must keep key order and
//! the exact text of every number across decrypt → encrypt (sops 3.11 turns
//! 12345678901234567890 into 12345678901234567000; we must not), and the
//! same walk must serve JSON and YAML.

use crate::SopsError;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Str(String),
    /// Integer, exact decimal text.
    Int(String),
    /// Non-integer number, exact text.
    Float(String),
    Bool(bool),
    Null,
}

impl Node {
    /// The value under `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn from_json(v: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        match v {
            J::Null => Node::Null,
            J::Bool(b) => Node::Bool(*b),
            J::Number(n) => number(n.to_string()),
            J::String(s) => Node::Str(s.clone()),
            J::Array(a) => Node::List(a.iter().map(Node::from_json).collect()),
            J::Object(m) => Node::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        }
    }

    pub fn to_json(&self) -> Result<serde_json::Value, SopsError> {
        use serde_json::Value as J;
        Ok(match self {
            Node::Null => J::Null,
            Node::Bool(b) => J::Bool(*b),
            Node::Int(t) | Node::Float(t) => J::Number(
                t.parse::<serde_json::Number>()
                    .map_err(|_| SopsError::Malformed(format!("{t:?} is not a number")))?,
            ),
            Node::Str(s) => J::String(s.clone()),
            Node::List(a) => J::Array(a.iter().map(Node::to_json).collect::<Result<_, _>>()?),
            Node::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_json()?)))
                    .collect::<Result<_, SopsError>>()?,
            ),
        })
    }

    pub fn from_yaml(v: &serde_yaml::Value) -> Result<Node, SopsError> {
        use serde_yaml::Value as Y;
        Ok(match v {
            Y::Null => Node::Null,
            Y::Bool(b) => Node::Bool(*b),
            Y::Number(n) => number(n.to_string()),
            Y::String(s) => Node::Str(s.clone()),
            Y::Sequence(a) => Node::List(a.iter().map(Node::from_yaml).collect::<Result<_, _>>()?),
            Y::Mapping(m) => Node::Map(
                m.iter()
                    .map(|(k, v)| match k {
                        Y::String(k) => Ok((k.clone(), Node::from_yaml(v)?)),
                        _ => Err(SopsError::Malformed(
                            "only string keys are supported".into(),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Y::Tagged(t) => Node::from_yaml(&t.value)?,
        })
    }

    pub fn to_yaml(&self) -> Result<serde_yaml::Value, SopsError> {
        use serde_yaml::Value as Y;
        Ok(match self {
            Node::Null => Y::Null,
            Node::Bool(b) => Y::Bool(*b),
            Node::Int(t) | Node::Float(t) => serde_yaml::from_str(t)
                .map_err(|_| SopsError::Malformed(format!("{t:?} is not a number")))?,
            Node::Str(s) => Y::String(s.clone()),
            Node::List(a) => Y::Sequence(a.iter().map(Node::to_yaml).collect::<Result<_, _>>()?),
            Node::Map(m) => Y::Mapping(
                m.iter()
                    .map(|(k, v)| Ok((Y::String(k.clone()), v.to_yaml()?)))
                    .collect::<Result<_, SopsError>>()?,
            ),
        })
    }
}

fn number(text: String) -> Node {
    let integral = text
        .strip_prefix('-')
        .unwrap_or(&text)
        .bytes()
        .all(|b| b.is_ascii_digit());
    if integral {
        Node::Int(text)
    } else {
        Node::Float(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_order_and_number_text() {
        let text = r#"{"z":1,"a":12345678901234567890,"m":[1.50,true,null,"s"]}"#;
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let n = Node::from_json(&v);
        assert_eq!(n.get("a"), Some(&Node::Int("12345678901234567890".into())));
        assert_eq!(serde_json::to_string(&n.to_json().unwrap()).unwrap(), text);
    }
}
