mod build;
mod common;
mod configure;
mod interop;
mod online;
mod tui;
