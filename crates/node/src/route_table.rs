//! The one way a room declares its HTTP routes: [`route_table!`] writes both the
//! room's `ROUTES` list (method, path), which the node's route list and the OpenAPI
//! check read, and the router that serves exactly those routes.

/// `route_table!(State { GET "/v1/x" => handler, POST "/v1/y" => other, })` defines
/// `pub const ROUTES: &[(&str, &str)]` and `fn table() -> Router<State>`.
macro_rules! route_table {
    ($state:ty { $($method:ident $path:literal => $handler:expr,)* }) => {
        /// This room's routes, as (method, path).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// The router serving [`ROUTES`], before its state is given.
        fn table() -> axum::Router<$state> {
            axum::Router::new()
                $(.route(
                    $path,
                    axum::routing::on(axum::routing::MethodFilter::$method, $handler),
                ))*
        }
    };
}

pub(crate) use route_table;

/// The routes of several rooms as one list (for the node's `ROUTES`).
pub(crate) const fn count(parts: &[&[(&str, &str)]]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < parts.len() {
        n += parts[i].len();
        i += 1;
    }
    n
}

/// Concatenates the rooms' route lists; `N` must be [`count`] of them.
pub(crate) const fn concat<const N: usize>(
    parts: &[&[(&'static str, &'static str)]],
) -> [(&'static str, &'static str); N] {
    let mut out = [("", ""); N];
    let (mut k, mut i) = (0, 0);
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[k] = parts[i][j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(k == N, "the route count is wrong");
    out
}
