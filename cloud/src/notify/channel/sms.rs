//! The sms channel.
