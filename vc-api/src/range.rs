//! The check behind the generated `.data()` for integer parameters with a documented range
//! (`minimum` / `maximum` in the spec): an out-of-range value fails with
//! [`Error::InvalidRequest`] before anything is sent.

use crate::error::Error;
use crate::operation::Operation;

/// An integer parameter's value as a builder holds it: the number, or none when an optional
/// parameter is not set.
pub(crate) trait IntegerParam {
    /// The value, when set.
    fn integer(&self) -> Option<i64>;
}

macro_rules! integer_param {
    ($($t:ty),*) => {$(
        impl IntegerParam for $t {
            fn integer(&self) -> Option<i64> {
                i64::try_from(*self).ok()
            }
        }
    )*};
}

integer_param!(i8, i16, i32, i64, u8, u16, u32, u64);

impl<T: IntegerParam> IntegerParam for Option<T> {
    fn integer(&self) -> Option<i64> {
        self.as_ref().and_then(IntegerParam::integer)
    }
}

/// Fails when parameter `name` of `operation` is set and outside `minimum..=maximum`.
pub(crate) fn check(
    operation: &'static Operation,
    name: &str,
    value: &impl IntegerParam,
    minimum: Option<i64>,
    maximum: Option<i64>,
) -> Result<(), Error> {
    let Some(value) = value.integer() else { return Ok(()) };
    let range = match (minimum, maximum) {
        (Some(min), Some(max)) if value < min || value > max => format!("from {min} to {max}"),
        (Some(min), None) if value < min => format!("at least {min}"),
        (None, Some(max)) if value > max => format!("at most {max}"),
        _ => return Ok(()),
    };
    Err(Error::InvalidRequest {
        operation: operation.id,
        message: format!("parameter {name} is {value}; the API accepts {range}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_bounds_name_the_parameter_and_the_range() {
        let op = Operation::find("room_list").unwrap();
        assert!(check(op, "page_size", &Some(20i32), Some(20), Some(100)).is_ok());
        assert!(check(op, "page_size", &None::<i32>, Some(20), Some(100)).is_ok());
        let error = check(op, "page_size", &101i32, Some(20), Some(100)).unwrap_err();
        assert!(matches!(&error, Error::InvalidRequest { operation: "room_list", .. }), "{error:?}");
        assert!(error.to_string().contains("parameter page_size is 101; the API accepts from 20 to 100"), "{error}");
        let error = check(op, "limit", &Some(0i64), Some(1), None).unwrap_err();
        assert!(error.to_string().contains("at least 1"), "{error}");
        let error = check(op, "limit", &7u32, None, Some(5)).unwrap_err();
        assert!(error.to_string().contains("at most 5"), "{error}");
    }
}
