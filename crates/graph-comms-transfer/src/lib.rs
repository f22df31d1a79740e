//! Build and validate Microsoft Graph call-transfer requests before they are sent.
