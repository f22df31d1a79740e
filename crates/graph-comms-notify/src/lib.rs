//! Decode Microsoft Graph commsNotifications and track call transfers to their outcome.
