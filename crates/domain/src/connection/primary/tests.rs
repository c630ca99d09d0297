use super::*;
use crate::connection::{AccountType, ConnectionStatus, ProviderAccountId};
use crate::ids::UserId;
use crate::provider::Provider;
use chrono::{TimeZone, Utc};
use uuid::Uuid;

fn conn(n: u128, day: u32, primary: bool) -> Connection {
    let at = Utc.with_ymd_and_hms(2025, 1, day, 0, 0, 0).unwrap();
    Connection {
        id: ConnectionId(Uuid::from_u128(n)),
        user_id: UserId(1),
        provider: Provider::X,
        provider_account_id: ProviderAccountId::new(format!("acct{n}")).unwrap(),
        account_label: None,
        account_type: AccountType::Personal,
        is_primary: primary,
        status: ConnectionStatus::Active,
        metadata: serde_json::json!({}),
        expires_at: None,
        created_at: at,
        updated_at: at,
    }
}

fn id(n: u128) -> ConnectionId {
    ConnectionId(Uuid::from_u128(n))
}

#[test]
fn first_connection_becomes_primary() {
    assert!(on_connect(&[]));
    assert!(!on_connect(&[conn(1, 1, true)]));
    // Only when no existing one is primary (repairs a provider left without a primary).
    assert!(on_connect(&[conn(1, 1, false)]));
}

#[test]
fn making_another_primary_demotes_the_old_one() {
    let conns = [conn(1, 1, true), conn(2, 2, false), conn(3, 3, false)];
    assert_eq!(
        make_primary(&conns, id(3)).unwrap(),
        vec![(id(1), false), (id(3), true)]
    );
    assert_eq!(make_primary(&conns, id(1)).unwrap(), vec![]);
    assert_eq!(make_primary(&conns, id(9)), Err(NotAmongConnections(id(9))));
}

#[test]
fn making_primary_repairs_several_primaries() {
    let conns = [conn(1, 1, true), conn(2, 2, true)];
    assert_eq!(make_primary(&conns, id(2)).unwrap(), vec![(id(1), false)]);
}

#[test]
fn removing_the_primary_of_three_promotes_the_oldest_remaining() {
    // Connections 1 (primary, oldest), 2 (newest), 3 (middle): remove 1.
    let remaining = [conn(2, 20, false), conn(3, 10, false)];
    assert_eq!(after_removal(&remaining), Some(id(3)));
}

#[test]
fn removal_ties_break_on_id_and_a_remaining_primary_stays() {
    assert_eq!(
        after_removal(&[conn(5, 1, false), conn(4, 1, false)]),
        Some(id(4))
    );
    assert_eq!(after_removal(&[conn(2, 2, false), conn(3, 3, true)]), None);
    assert_eq!(after_removal(&[]), None);
}
