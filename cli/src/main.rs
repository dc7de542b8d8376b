//! `leadrelay`: the command line.

fn main() {}
