//! tfplugin: a msgpack-encoded cty value as Terraform sends it in a gRPC
//! request (config, state, plan), decoded against a type. The first byte
//! picks one of the types providers declare (primitives, collections,
//! nested objects, tuples, dynamic, which carries its own type JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfplugin::value::{Type, from_msgpack};

fn types() -> Vec<Type> {
    let host = Type::object([
        ("name", Type::String),
        ("port", Type::Number),
        ("tls", Type::Bool),
        ("groups", Type::set(Type::String)),
        ("labels", Type::map(Type::String)),
    ]);
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
        Type::Dynamic,
        Type::list(Type::String),
        Type::map(Type::Number),
        Type::set(host.clone()),
        Type::list(host.clone()),
        Type::Tuple(vec![Type::String, Type::Dynamic, Type::list(Type::Bool)]),
        Type::object([("hosts", Type::map(host)), ("any", Type::Dynamic)]),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let types = types();
    let ty = &types[usize::from(pick) % types.len()];
    let _ = from_msgpack(rest, ty);
});
