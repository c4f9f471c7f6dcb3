mod build;
mod common;
mod configure;
mod online;
mod tui;
mod interop;
