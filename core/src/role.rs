//! The three parties of SecureNN and their roles.

/// A party of the protocol. P0 (client, holds the input) and P1 (server, holds the model) hold
/// 2-out-of-2 additive shares; P2 (helper) deals correlated randomness and runs the last step
/// of PrivateCompare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The client: holds the input and alone learns the output.
    P0,
    /// The server: holds the model's weights.
    P1,
    /// The helper: deals correlated randomness and holds no share.
    P2,
}

impl Role {
    /// All three roles, in index order.
    pub const ALL: [Role; 3] = [Role::P0, Role::P1, Role::P2];

    /// 0, 1 or 2.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The role with index 0, 1 or 2.
    pub fn from_index(i: usize) -> Option<Role> {
        Role::ALL.get(i).copied()
    }

    /// The other share holder: P1 for P0 and P0 for P1; `None` for P2, which holds no share.
    pub fn other_holder(self) -> Option<Role> {
        match self {
            Role::P0 => Some(Role::P1),
            Role::P1 => Some(Role::P0),
            Role::P2 => None,
        }
    }

    /// The two other parties, in index order.
    pub fn others(self) -> [Role; 2] {
        match self {
            Role::P0 => [Role::P1, Role::P2],
            Role::P1 => [Role::P0, Role::P2],
            Role::P2 => [Role::P0, Role::P1],
        }
    }

    /// `j` of the SecureNN algorithms: 0 for P0, 1 for P1 (P2 holds no share and gets 0).
    pub fn j(self) -> u64 {
        (self == Role::P1) as u64
    }
}

impl core::fmt::Display for Role {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "P{}", self.index())
    }
}
