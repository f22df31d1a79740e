//! An authenticated axum webhook receiver for Microsoft Graph call notifications.
