//! Generated protocol code (tfplugin6 and go-plugin's controller); nothing else.
#![allow(clippy::all, missing_docs)]

pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

pub mod plugin {
    tonic::include_proto!("plugin");
}
