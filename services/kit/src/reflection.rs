//! gRPC server reflection (`grpc.reflection.v1` and `v1alpha`), for every
//! service and the gateway.
//!
//! Each request on the stream is answered as soon as it arrives (clients
//! such as `buf curl` and `grpcurl` keep the stream open for their next
//! question), and a file is sent together with every file it imports that
//! this stream has not sent yet, as grpc-go's server does: a client that
//! does not chase imports by name can still build the descriptors.

use std::collections::{HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt as _};
use prost_reflect::{DescriptorPool, FileDescriptor};
use tonic::{Request, Response, Status, Streaming};

use crate::BoxError;

/// The descriptors a reflection service answers from, shared by both
/// protocol versions.
#[derive(Clone, Debug)]
pub struct Reflection {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    pool: DescriptorPool,
    /// The services listed, sorted.
    services: Vec<String>,
    /// Every symbol (message, field, enum, enum value, service, method,
    /// extension) by full name, and the file that declares it.
    symbols: HashMap<String, String>,
}

/// One question, whichever version asked it.
#[derive(Debug)]
enum Ask {
    FileByName(String),
    FileContainingSymbol(String),
    FileContainingExtension(String, i32),
    ExtensionNumbers(String),
    ListServices,
    Nothing,
}

/// One answer, whichever version will carry it.
#[derive(Debug)]
enum Answer {
    Files(Vec<Vec<u8>>),
    ExtensionNumbers(String, Vec<i32>),
    Services(Vec<String>),
    Error(tonic::Code, String),
}

/// Longest symbol or file name quoted back in an error.
const QUOTED: usize = 120;

impl Reflection {
    /// Reflection over the encoded descriptor sets, listing the services
    /// for which `listed` is true (the reflection services themselves are
    /// always listed).
    pub fn new(sets: &[&[u8]], listed: impl Fn(&str) -> bool) -> Result<Reflection, BoxError> {
        let mut pool = DescriptorPool::new();
        for set in sets
            .iter()
            .copied()
            .chain([tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET])
            .chain([tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET])
        {
            pool.decode_file_descriptor_set(set)?;
        }
        let mut services: Vec<String> = pool
            .services()
            .map(|s| s.full_name().to_owned())
            .filter(|s| s.starts_with("grpc.reflection.") || listed(s))
            .collect();
        services.sort();
        services.dedup();
        let mut symbols = HashMap::new();
        for file in pool.files() {
            let name = file.name().to_owned();
            let mut add = |symbol: &str| {
                symbols.insert(symbol.to_owned(), name.clone());
            };
            for service in file.services() {
                add(service.full_name());
                for method in service.methods() {
                    add(method.full_name());
                }
            }
            for extension in file.extensions() {
                add(extension.full_name());
            }
        }
        for message in pool.all_messages() {
            let file = message.parent_file().name().to_owned();
            symbols.insert(message.full_name().to_owned(), file.clone());
            for field in message.fields() {
                symbols.insert(field.full_name().to_owned(), file.clone());
            }
            for extension in message.child_extensions() {
                symbols.insert(extension.full_name().to_owned(), file.clone());
            }
        }
        for e in pool.all_enums() {
            let file = e.parent_file().name().to_owned();
            symbols.insert(e.full_name().to_owned(), file.clone());
            for value in e.values() {
                symbols.insert(value.full_name().to_owned(), file.clone());
            }
        }
        Ok(Reflection {
            state: Arc::new(State {
                pool,
                services,
                symbols,
            }),
        })
    }

    /// The `grpc.reflection.v1` service.
    pub fn v1(
        &self,
    ) -> tonic_reflection::pb::v1::server_reflection_server::ServerReflectionServer<V1> {
        tonic_reflection::pb::v1::server_reflection_server::ServerReflectionServer::new(V1(
            self.clone()
        ))
    }

    /// The `grpc.reflection.v1alpha` service.
    pub fn v1alpha(
        &self,
    ) -> tonic_reflection::pb::v1alpha::server_reflection_server::ServerReflectionServer<V1alpha>
    {
        tonic_reflection::pb::v1alpha::server_reflection_server::ServerReflectionServer::new(
            V1alpha(self.clone()),
        )
    }

    /// The services listed.
    pub fn services(&self) -> &[String] {
        &self.state.services
    }

    fn answer(&self, ask: Ask, sent: &mut HashSet<String>) -> Answer {
        let state = &self.state;
        let file = |name: &str| state.pool.get_file_by_name(name);
        match ask {
            Ask::ListServices => Answer::Services(state.services.clone()),
            Ask::FileByName(name) => match file(&name) {
                Some(f) => Answer::Files(with_imports(f, sent)),
                None => not_found("file", &name),
            },
            Ask::FileContainingSymbol(symbol) => {
                match state.symbols.get(&symbol).and_then(|f| file(f)) {
                    Some(f) => Answer::Files(with_imports(f, sent)),
                    None => not_found("symbol", &symbol),
                }
            }
            Ask::FileContainingExtension(message, number) => {
                let found = u32::try_from(number).ok().and_then(|n| {
                    state
                        .pool
                        .get_message_by_name(&message)?
                        .get_extension(n)
                        .map(|e| e.parent_file())
                });
                match found {
                    Some(f) => Answer::Files(with_imports(f, sent)),
                    None => not_found("extension of", &message),
                }
            }
            Ask::ExtensionNumbers(message) => match state.pool.get_message_by_name(&message) {
                Some(m) => Answer::ExtensionNumbers(
                    m.full_name().to_owned(),
                    m.extensions().map(|e| e.number() as i32).collect(),
                ),
                None => not_found("message", &message),
            },
            Ask::Nothing => Answer::Error(
                tonic::Code::InvalidArgument,
                "the request names no question (file_by_filename, file_containing_symbol, …)"
                    .to_owned(),
            ),
        }
    }
}

fn not_found(what: &str, name: &str) -> Answer {
    Answer::Error(
        tonic::Code::NotFound,
        format!("no {what} `{}` here", crate::text::prefix(name, QUOTED)),
    )
}

/// `file` first, then every file it imports (transitively, breadth first)
/// that this stream has not sent yet; notes what it sends. A file sent
/// before came with all its imports, so the walk stops at it.
fn with_imports(file: FileDescriptor, sent: &mut HashSet<String>) -> Vec<Vec<u8>> {
    sent.insert(file.name().to_owned());
    let mut out = vec![file.encode_to_vec()];
    let mut queue: VecDeque<FileDescriptor> = file.dependencies().collect();
    while let Some(f) = queue.pop_front() {
        if sent.insert(f.name().to_owned()) {
            out.push(f.encode_to_vec());
            queue.extend(f.dependencies());
        }
    }
    out
}

/// The answers to one stream's questions, in order, each as it comes.
type Answers<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Implements one version of the protocol over [`Reflection`]: the two
/// versions' messages are the same, in two packages.
macro_rules! reflection_version {
    ($server:ident, $pb:ident) => {
        /// Reflection in this protocol version.
        #[derive(Clone, Debug)]
        pub struct $server(Reflection);

        #[tonic::async_trait]
        impl tonic_reflection::pb::$pb::server_reflection_server::ServerReflection for $server {
            type ServerReflectionInfoStream =
                Answers<tonic_reflection::pb::$pb::ServerReflectionResponse>;

            async fn server_reflection_info(
                &self,
                request: Request<Streaming<tonic_reflection::pb::$pb::ServerReflectionRequest>>,
            ) -> Result<Response<Self::ServerReflectionInfoStream>, Status> {
                use pb::server_reflection_request::MessageRequest as Q;
                use pb::server_reflection_response::MessageResponse as A;
                use tonic_reflection::pb::$pb as pb;
                let reflection = self.0.clone();
                let mut sent = HashSet::new();
                let answers = request.into_inner().map(move |question| {
                    let question = question?;
                    let ask = match question.message_request.clone() {
                        Some(Q::FileByFilename(f)) => Ask::FileByName(f),
                        Some(Q::FileContainingSymbol(s)) => Ask::FileContainingSymbol(s),
                        Some(Q::FileContainingExtension(e)) => {
                            Ask::FileContainingExtension(e.containing_type, e.extension_number)
                        }
                        Some(Q::AllExtensionNumbersOfType(t)) => Ask::ExtensionNumbers(t),
                        Some(Q::ListServices(_)) => Ask::ListServices,
                        None => Ask::Nothing,
                    };
                    let response = match reflection.answer(ask, &mut sent) {
                        Answer::Files(files) => {
                            A::FileDescriptorResponse(pb::FileDescriptorResponse {
                                file_descriptor_proto: files,
                            })
                        }
                        Answer::ExtensionNumbers(base_type_name, extension_number) => {
                            A::AllExtensionNumbersResponse(pb::ExtensionNumberResponse {
                                base_type_name,
                                extension_number,
                            })
                        }
                        Answer::Services(names) => {
                            A::ListServicesResponse(pb::ListServiceResponse {
                                service: names
                                    .into_iter()
                                    .map(|name| pb::ServiceResponse { name })
                                    .collect(),
                            })
                        }
                        Answer::Error(code, error_message) => A::ErrorResponse(pb::ErrorResponse {
                            error_code: code as i32,
                            error_message,
                        }),
                    };
                    Ok(pb::ServerReflectionResponse {
                        valid_host: String::new(),
                        original_request: Some(question),
                        message_response: Some(response),
                    })
                });
                Ok(Response::new(Box::pin(answers)))
            }
        }
    };
}

reflection_version!(V1, v1);
reflection_version!(V1alpha, v1alpha);

#[cfg(test)]
mod tests {
    use super::*;

    fn reflection() -> Reflection {
        Reflection::new(
            &[
                cppcc_proto::FILE_DESCRIPTOR_SET,
                tonic_types::pb::FILE_DESCRIPTOR_SET,
            ],
            |s| s.starts_with("cppcc."),
        )
        .unwrap()
    }

    fn names(files: &[Vec<u8>]) -> Vec<String> {
        use prost::Message as _;
        files
            .iter()
            .map(|f| {
                prost_types::FileDescriptorProto::decode(&f[..])
                    .unwrap()
                    .name
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn a_file_comes_with_the_imports_not_yet_sent() {
        let r = reflection();
        let mut sent = HashSet::new();
        let Answer::Files(first) = r.answer(
            Ask::FileContainingSymbol("cppcc.members.v1.MemberService".into()),
            &mut sent,
        ) else {
            panic!("a file")
        };
        let first = names(&first);
        assert!(first[0].starts_with("cppcc/members/v1/"), "{first:?}");
        assert!(first.iter().any(|f| f == "google/protobuf/timestamp.proto"));
        assert!(first.iter().any(|f| f == "cppcc/common/v1/common.proto"));
        // Asked again on the same stream: the file alone.
        let Answer::Files(again) = r.answer(
            Ask::FileContainingSymbol("cppcc.members.v1.MemberService.GetMember".into()),
            &mut sent,
        ) else {
            panic!("a file")
        };
        assert_eq!(names(&again), vec![first[0].clone()]);
        // A message's field, an enum value.
        for symbol in [
            "cppcc.members.v1.Member.display_name",
            "cppcc.common.v1.DutyKind",
            "google.rpc.BadRequest",
        ] {
            assert!(matches!(
                r.answer(Ask::FileContainingSymbol(symbol.into()), &mut sent),
                Answer::Files(_)
            ));
        }
    }

    #[test]
    fn lists_services_and_names_what_is_missing_briefly() {
        let r = reflection();
        let mut sent = HashSet::new();
        let Answer::Services(services) = r.answer(Ask::ListServices, &mut sent) else {
            panic!("services")
        };
        assert!(
            services
                .iter()
                .any(|s| s == "cppcc.members.v1.MemberService")
        );
        assert!(
            services
                .iter()
                .any(|s| s == "grpc.reflection.v1.ServerReflection")
        );
        assert!(!services.iter().any(|s| s.starts_with("google.")));
        let long = "x".repeat(65_536);
        let Answer::Error(code, message) = r.answer(Ask::FileByName(long), &mut sent) else {
            panic!("an error")
        };
        assert_eq!(code, tonic::Code::NotFound);
        assert!(message.len() < 200, "{message}");
    }
}
