//! The conformance suite against [`MemStore`].

use aqueduct_store::MemStore;

aqueduct_store::store_test_suite!(|_test: &'static str| async { Some(MemStore::new()) });
