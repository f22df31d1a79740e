//! The Transport trait and a reqwest client for Microsoft Graph's call-transfer API.
