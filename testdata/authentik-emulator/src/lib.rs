//! authentik-emulator
