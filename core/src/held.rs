//! A secret that one party alone holds (P0's input, P1's weights), as every party passes it to
//! the step they all run: the holder passes its values, the others pass [`Held::NotMine`].
//! [`Held::check`] refuses a party that passes values its role does not hold, or the holder
//! passing none, with an error naming the holder.

use crate::party::Error;
use crate::role::Role;

/// One party's side of a secret only `holder` has: a slice of values (`Held<'_, [f32]>`), or a
/// table such as P1's [`crate::model::Weights`].
#[derive(Debug, PartialEq)]
pub enum Held<'a, T: ?Sized> {
    /// This party holds the values.
    Mine(&'a T),
    /// Another party holds them.
    NotMine,
}

impl<T: ?Sized> Clone for Held<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Held<'_, T> {}

impl<'a, T: ?Sized> Held<'a, T> {
    /// `Mine(values)` for `Some`, `NotMine` for `None`.
    pub fn from_option(values: Option<&'a T>) -> Held<'a, T> {
        values.map_or(Held::NotMine, Held::Mine)
    }

    /// The values when `role` is `holder` and passed them; `None` when `role` is not the
    /// holder and passed none. Anything else is [`Error::NotHeld`] naming `what` and `holder`.
    pub fn check<E>(
        self,
        role: Role,
        holder: Role,
        what: &'static str,
    ) -> Result<Option<&'a T>, Error<E>> {
        match (self, role == holder) {
            (Held::Mine(v), true) => Ok(Some(v)),
            (Held::NotMine, false) => Ok(None),
            _ => Err(Error::NotHeld { what, holder }),
        }
    }
}
