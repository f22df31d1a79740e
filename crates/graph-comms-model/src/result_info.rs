//! Reading [`ResultInfo`] whatever way the wire spells it.

use crate::ResultInfo;

impl ResultInfo {
    /// The result code as an integer (`0`, `200`, `500`, ...), from a number or a numeric string.
    pub fn code_value(&self) -> Option<i64> {
        self.code.as_ref().and_then(crate::WireInt::value)
    }

    /// The sub-code as an integer, from either spelling (`subcode` first, then `subCode`), given as
    /// a number or a numeric string.
    ///
    /// ```
    /// use graph_comms_model::ResultInfo;
    /// let r: ResultInfo = serde_json::from_str(r#"{"code":"500","subCode":7000}"#).unwrap();
    /// assert_eq!((r.code_value(), r.subcode_value()), (Some(500), Some(7000)));
    /// ```
    pub fn subcode_value(&self) -> Option<i64> {
        self.subcode
            .as_ref()
            .and_then(crate::WireInt::value)
            .or_else(|| self.sub_code.as_ref().and_then(crate::WireInt::value))
    }
}
