//! carpd: a drop-in successor to ucarp 1.5.2.
#![deny(unsafe_code)]

fn main() -> std::process::ExitCode {
    carpd::run()
}
