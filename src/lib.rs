//! sfgate
