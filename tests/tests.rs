mod common;
mod configure;
mod online;
