//! forgejo-emulator
