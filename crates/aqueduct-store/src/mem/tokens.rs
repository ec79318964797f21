//! API tokens of a [`super::MemStore`].

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::records::{Role, TokenRecord, truncate_to_micros as micros};
use crate::{Error, Result};

#[derive(Debug, Clone, Default)]
pub(super) struct Tokens {
    by_id: BTreeMap<i64, TokenRecord>,
    /// Ids are never reused, as with an autoincrement column.
    last_id: i64,
}

impl Tokens {
    pub(super) fn create(
        &mut self,
        name: &str,
        role: Role,
        hash: &str,
        at: Timestamp,
    ) -> Result<TokenRecord> {
        if self.by_id.values().any(|token| token.name == name) {
            return Err(Error::Conflict(format!("token {name}")));
        }
        self.last_id += 1;
        let token = TokenRecord {
            id: self.last_id,
            name: name.to_owned(),
            role,
            hash: hash.to_owned(),
            created_at: micros(at),
            last_used_at: None,
        };
        self.by_id.insert(token.id, token.clone());
        Ok(token)
    }

    pub(super) fn get(&self, id: i64) -> Result<&TokenRecord> {
        self.by_id.get(&id).ok_or_else(|| token_not_found(id))
    }

    pub(super) fn list(&self) -> Vec<TokenRecord> {
        self.by_id.values().cloned().collect()
    }

    pub(super) fn touch(&mut self, id: i64, at: Timestamp) -> Result<()> {
        let token = self.by_id.get_mut(&id).ok_or_else(|| token_not_found(id))?;
        token.last_used_at = Some(micros(at));
        Ok(())
    }

    pub(super) fn delete(&mut self, id: i64) -> Result<()> {
        self.by_id
            .remove(&id)
            .map(drop)
            .ok_or_else(|| token_not_found(id))
    }
}

fn token_not_found(id: i64) -> Error {
    Error::NotFound(format!("token {id}"))
}
