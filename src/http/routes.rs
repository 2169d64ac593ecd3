//! The route table: every method in the descriptor pool that carries a `google.api.http` rule (and
//! its `additional_bindings`), checked when the table is built — the template parses, its
//! variables and `body` name fields of the request message — so a request meets only valid routes.

use http::Method;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    ServiceDescriptor, Value,
};

use super::route::{Binding, PathTemplate};

/// What of the request message the HTTP body carries (`body` of the rule).
#[derive(Debug, Clone)]
pub(crate) enum BodyField {
    /// No body: every field not in the path comes from the query.
    None,
    /// `body: "*"`: the whole message, less the path variables.
    Whole,
    /// `body: "lead"`: that field; the others from the path and the query.
    Field(FieldDescriptor),
}

/// One HTTP binding of an RPC.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// The HTTP method.
    pub(crate) method: Method,
    /// The path template.
    pub(crate) template: PathTemplate,
    /// The RPC it calls.
    pub(crate) rpc: MethodDescriptor,
    /// What the body carries.
    pub(crate) body: BodyField,
}

impl Route {
    /// The gRPC path of its RPC, e.g. `/sfgate.v1.LeadService/GetLead`.
    pub(crate) fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.rpc.parent_service().full_name(),
            self.rpc.name()
        )
    }
}

/// How a request's method and path met the routes.
#[derive(Debug)]
pub(crate) enum Found<'a> {
    /// This route, with its variables' values.
    Route(&'a Route, Vec<Binding>),
    /// The path has routes, none for this method; these methods it has.
    MethodNotAllowed(Vec<Method>),
    /// No route has this path.
    Nothing,
}

/// Every HTTP route of the pool's services.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// Most literal segments first, so that `/v1/records/{object}:describe` is tried before a
    /// template with fewer literals could claim its path.
    routes: Vec<Route>,
}

impl Routes {
    /// The routes of every method of `pool` whose name starts with `package_prefix` (e.g.
    /// `sfgate.v1.`), or why a rule is unusable.
    pub(crate) fn of_pool(pool: &DescriptorPool, package_prefix: &str) -> Result<Self, String> {
        Self::of_services(
            pool.services()
                .filter(|service| service.full_name().starts_with(package_prefix)),
        )
    }

    /// The routes of the HTTP rules of these services' methods (each service's pool must know
    /// `google.api.http`).
    pub(crate) fn of_services(
        services: impl IntoIterator<Item = ServiceDescriptor>,
    ) -> Result<Self, String> {
        let mut routes = Vec::new();
        for service in services {
            let Some(http) = service
                .parent_pool()
                .get_extension_by_name("google.api.http")
            else {
                continue;
            };
            for rpc in service.methods() {
                let options = rpc.options();
                if !options.has_extension(&http) {
                    continue;
                }
                let Value::Message(rule) = options.get_extension(&http).into_owned() else {
                    continue;
                };
                let mut rules = vec![rule.clone()];
                if let Some(Value::List(more)) =
                    rule.get_field_by_name("additional_bindings").as_deref()
                {
                    rules.extend(more.iter().filter_map(|value| value.as_message().cloned()));
                }
                for rule in rules {
                    routes.push(
                        route_of(&rpc, &rule)
                            .map_err(|why| format!("{}: {why}", rpc.full_name()))?,
                    );
                }
            }
        }
        routes.sort_by_key(|route| std::cmp::Reverse(route.template.literals()));
        Ok(Self { routes })
    }

    /// These routes and `more`, in matching order.
    pub(crate) fn merged(mut self, more: Self) -> Self {
        self.routes.extend(more.routes);
        self.routes
            .sort_by_key(|route| std::cmp::Reverse(route.template.literals()));
        self
    }

    /// How many routes there are.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Every route, most specific first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    /// The route for `method` and `path` (without the query); `HEAD` finds the `GET` route.
    pub(crate) fn find(&self, method: &Method, path: &str) -> Found<'_> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let mut allowed = Vec::new();
        for route in &self.routes {
            if let Some(bindings) = route.template.matches(path) {
                if route.method == *method {
                    return Found::Route(route, bindings);
                }
                if !allowed.contains(&route.method) {
                    allowed.push(route.method.clone());
                }
            }
        }
        if allowed.is_empty() {
            Found::Nothing
        } else {
            Found::MethodNotAllowed(allowed)
        }
    }
}

fn text(rule: &DynamicMessage, field: &str) -> Option<String> {
    rule.get_field_by_name(field)
        .and_then(|value| value.as_str().map(str::to_owned))
        .filter(|text| !text.is_empty())
}

fn route_of(rpc: &MethodDescriptor, rule: &DynamicMessage) -> Result<Route, String> {
    let verbs = [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ];
    let (method, template) = verbs
        .into_iter()
        .find_map(|(field, method)| text(rule, field).map(|template| (method, template)))
        .ok_or("the rule has no get, put, post, delete or patch pattern")?;
    let template = PathTemplate::parse(&template).map_err(|error| error.to_string())?;
    let input = rpc.input();
    for variable in template.variables() {
        let field = field_at(&input, variable)?;
        if field.is_list() || matches!(field.kind(), Kind::Message(_)) {
            return Err(format!(
                "path variable {} is not a single scalar field",
                variable.join(".")
            ));
        }
    }
    let body = match text(rule, "body").as_deref() {
        None => BodyField::None,
        Some("*") => BodyField::Whole,
        Some(name) => BodyField::Field(
            input
                .get_field_by_name(name)
                .ok_or_else(|| format!("body {name:?} is not a field of {}", input.full_name()))?,
        ),
    };
    if rpc.is_client_streaming() {
        return Err("client-streaming RPCs have no HTTP binding".into());
    }
    Ok(Route {
        method,
        template,
        rpc: rpc.clone(),
        body,
    })
}

/// The field of `message` named `name` by either spelling (proto or JSON).
pub(crate) fn field_named(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_name(name)
        .or_else(|| message.get_field_by_json_name(name))
}

/// The field a dotted path names in `message` (`lead.id`), through singular message fields.
pub(crate) fn field_at(
    message: &MessageDescriptor,
    path: &[String],
) -> Result<FieldDescriptor, String> {
    let mut message = message.clone();
    let mut found = None;
    for (at, name) in path.iter().enumerate() {
        let field = field_named(&message, name)
            .ok_or_else(|| format!("{} has no field {name:?}", message.full_name()))?;
        if at + 1 < path.len() {
            match field.kind() {
                Kind::Message(inner) if !field.is_list() && !field.is_map() => message = inner,
                _ => {
                    return Err(format!(
                        "{name:?} in {} is not a message field",
                        path.join(".")
                    ));
                }
            }
        }
        found = Some(field);
    }
    found.ok_or_else(|| "an empty field path".to_owned())
}
