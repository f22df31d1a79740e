//! An offline emulator of Microsoft Graph's cloud-communications call and transfer API.
