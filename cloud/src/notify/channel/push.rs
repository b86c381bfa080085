//! The push channel.
