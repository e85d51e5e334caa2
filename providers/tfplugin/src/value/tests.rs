//! Codec and model tests across the value modules.

use rmpv::Value as Mp;

use super::msgpack::check_depth;
use super::*;

/// A value nested past the limit is an error without recursing (the
/// reader's own recursion overflowed a 2 MiB worker stack); one at the
/// limit still decodes.
#[test]
fn msgpack_nested_past_the_limit_is_refused_without_recursion() {
    let nested = |depth: usize| {
        let mut b = vec![0x91u8; depth];
        b.push(0xc0);
        b
    };
    let mut ty = Type::String;
    for _ in 0..MAX_MSGPACK_DEPTH {
        ty = Type::list(ty);
    }
    from_msgpack(&nested(MAX_MSGPACK_DEPTH), &ty).expect("at the limit");
    let deep = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || from_msgpack(&nested(1_000_000), &Type::Dynamic))
        .unwrap()
        .join()
        .expect("no stack overflow");
    let err = deep.expect_err("too deep").to_string();
    assert!(err.contains("nested deeper than 128 levels"), "{err}");
    // Lengths in headers (str8, bin16, array32, map16) are skipped, not
    // counted as levels.
    let mut mixed = vec![0x93, 0xd9, 2, b'a', b'b', 0xc5, 0, 1, 0xff];
    mixed.extend([0xdd, 0, 0, 0, 1, 0xde, 0, 1, 0xa1, b'k', 0xc3]);
    check_depth(&mixed, 3).expect("three levels");
    assert!(check_depth(&mixed, 2).is_err());
}

fn obj_ty() -> Type {
    Type::object([
        ("name", Type::String),
        ("n", Type::Number),
        ("tags", Type::set(Type::String)),
        ("rules", Type::list(Type::object([("port", Type::Number)]))),
        ("extra", Type::Dynamic),
    ])
}

#[test]
fn msgpack_round_trip_keeps_every_kind() {
    let v = Value::object([
        ("name", Value::from("a")),
        (
            "n",
            Value::Number(Number::parse("12345678901234567890123").unwrap()),
        ),
        ("tags", Value::string_set(["b", "a", "b"])),
        (
            "rules",
            Value::List(vec![
                Value::object([("port", Value::from(443))]),
                Value::Unknown,
            ]),
        ),
        ("extra", Value::object([("k", Value::from(true))])),
    ]);
    let bytes = to_msgpack(&v, &obj_ty()).unwrap();
    assert_eq!(from_msgpack(&bytes, &obj_ty()).unwrap(), v);
    assert_eq!(v.get("tags"), &Value::string_set(["a", "b"]));
}

#[test]
fn any_extension_is_unknown_and_we_emit_ext0() {
    // Terraform 1.11 refined unknown: ext type 12 with a payload.
    let refined = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2];
    assert_eq!(
        from_msgpack(&refined, &Type::String).unwrap(),
        Value::Unknown
    );
    assert_eq!(
        to_msgpack(&Value::Unknown, &Type::String).unwrap(),
        vec![0xd4, 0x00, 0x00]
    );
}

#[test]
fn numbers_are_exact() {
    for text in [
        "0",
        "-7",
        "3.25",
        "0.1",
        "18446744073709551615",
        "1e400",
        "123456789012345678901234567890.5",
    ] {
        let n = Number::parse(text).unwrap();
        let bytes = to_msgpack(&Value::Number(n.clone()), &Type::Number).unwrap();
        assert_eq!(
            from_msgpack(&bytes, &Type::Number).unwrap(),
            Value::Number(n),
            "{text}"
        );
    }
    assert_eq!(
        Number::parse("2.50").unwrap(),
        Number::parse("2.5").unwrap()
    );
    assert_eq!(Number::parse("2.0").unwrap().as_i64(), Some(2));
    assert!(
        Number::parse("1.2.3").is_none()
            && Number::parse("abc").is_none()
            && Number::parse("").is_none()
    );
}

#[test]
fn missing_object_attributes_decode_as_null_and_unknown_ones_fail() {
    let bytes = to_msgpack(
        &Value::object([("name", Value::from("x"))]),
        &Type::object([("name", Type::String)]),
    )
    .unwrap();
    let v = from_msgpack(&bytes, &obj_ty()).unwrap();
    assert!(v.get("n").is_null());
    let bad = to_msgpack(
        &Value::object([("zzz", Value::from("x"))]),
        &Type::object([("zzz", Type::String)]),
    )
    .unwrap();
    assert!(from_msgpack(&bad, &obj_ty()).is_err());
}

#[test]
fn json_codec_and_lenient_state() {
    let j: serde_json::Value = serde_json::from_str(
        r#"{"name":"a","n":12345678901234567890,"gone":1,"extra":{"value":"x","type":"string"}}"#,
    )
    .unwrap();
    assert!(from_json(&j, &obj_ty(), false).is_err());
    let v = from_json(&j, &obj_ty(), true).unwrap();
    assert_eq!(
        v.get("n").as_f64().map(|_| v.get("n").clone()),
        Some(Value::Number(
            Number::parse("12345678901234567890").unwrap()
        ))
    );
    assert_eq!(v.get("extra"), &Value::from("x"));
    assert_eq!(
        to_json(&v.get("n").clone()).unwrap().to_string(),
        "12345678901234567890"
    );
}

#[test]
fn type_json_round_trips() {
    let t = obj_ty();
    assert_eq!(Type::from_json(&t.to_json()).unwrap(), t);
}

#[test]
fn unknown_set_elements_stay_distinct() {
    let ty = Type::set(Type::String);
    let v = Value::set(vec![
        Value::Unknown,
        Value::from("a"),
        Value::Unknown,
        Value::from("a"),
    ]);
    assert_eq!(v.as_list().map(<[Value]>::len), Some(3));
    let bytes = to_msgpack(&v, &ty).unwrap();
    assert_eq!(from_msgpack(&bytes, &ty).unwrap(), v);
}

#[test]
fn decimal_text_numbers_and_dynamic_unknowns_decode() {
    // cty sends numbers beyond float64 precision as msgpack strings.
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &Mp::from("98765432109876543210.125")).unwrap();
    assert_eq!(
        from_msgpack(&bytes, &Type::Number).unwrap(),
        Value::Number(Number::parse("98765432109876543210.125").unwrap())
    );
    // An unknown of dynamic type is a bare extension, not a [type, value] pair.
    assert_eq!(
        from_msgpack(&[0xd4, 0x00, 0x00], &Type::Dynamic).unwrap(),
        Value::Unknown
    );
    assert_eq!(from_msgpack(&[0xc0], &Type::Dynamic).unwrap(), Value::Null);
}

#[test]
fn paths_print_like_terraform() {
    let p = AttrPath::root().attr("rules").index(0).attr("port");
    assert_eq!(p.to_string(), "rules[0].port");
}
