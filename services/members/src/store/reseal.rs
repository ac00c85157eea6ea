//! Re-sealing personal data after a key rotation: rows sealed with a key
//! that is no longer the active one (or indexed with an old index key) are
//! sealed again with the current keys, so old keys can be retired.

use sqlx::PgPool;
use uuid::Uuid;

use cppcc_kit::ServiceError;
use cppcc_kit::error::classify_db_error;
use cppcc_kit::pii::PiiCipher;

use crate::grpc::{ID_NUMBER_INDEX, context};

const BATCH: i64 = 200;

/// Re-seals every member row whose personal data is not sealed with the
/// active key; returns how many rows changed. A row changed by someone
/// else meanwhile is left alone (its writer used the active key).
pub async fn reseal(pool: &PgPool, pii: &PiiCipher) -> Result<u64, ServiceError> {
    let mut after = Uuid::nil();
    let mut changed = 0;
    loop {
        let rows = sqlx::query!(
            "SELECT id, birth_date_sealed, id_number_sealed, id_number_index, phone_sealed
             FROM members.member WHERE id > $1 ORDER BY id LIMIT $2",
            after,
            BATCH,
        )
        .fetch_all(pool)
        .await
        .map_err(classify_db_error)?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = last.id;
        for row in &rows {
            let id_number = pii
                .open(&row.id_number_sealed, &context("id_number", row.id))
                .map_err(ServiceError::internal)?;
            let index = pii.blind_index(&id_number, ID_NUMBER_INDEX);
            let stale = pii.is_stale(&row.id_number_sealed)
                || index != row.id_number_index
                || row
                    .birth_date_sealed
                    .as_deref()
                    .is_some_and(|s| pii.is_stale(s))
                || row.phone_sealed.as_deref().is_some_and(|s| pii.is_stale(s));
            if !stale {
                continue;
            }
            let reseal =
                |sealed: &Option<Vec<u8>>, field: &str| -> Result<Option<Vec<u8>>, ServiceError> {
                    sealed
                        .as_deref()
                        .map(|s| {
                            let ctx = context(field, row.id);
                            pii.open(s, &ctx).map(|plain| pii.seal(&plain, &ctx))
                        })
                        .transpose()
                        .map_err(ServiceError::internal)
                };
            let birth_date = reseal(&row.birth_date_sealed, "birth_date")?;
            let phone = reseal(&row.phone_sealed, "phone")?;
            let id_sealed = pii.seal(&id_number, &context("id_number", row.id));
            let done = sqlx::query!(
                "UPDATE members.member
                 SET birth_date_sealed = $3, id_number_sealed = $4, id_number_index = $5, phone_sealed = $6
                 WHERE id = $1 AND id_number_sealed = $2",
                row.id,
                row.id_number_sealed,
                birth_date,
                id_sealed,
                index,
                phone,
            )
            .execute(pool)
            .await
            .map_err(classify_db_error)?;
            changed += done.rows_affected();
        }
    }
}
