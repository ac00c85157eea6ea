//! Protobuf messages as JSON (canonical proto3 JSON, proto field names),
//! for the audit log's before and after.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(cppcc_proto::FILE_DESCRIPTOR_SET)
            .expect("the compiled descriptor set decodes")
    })
}

/// The descriptor pool of every cppcc contract.
pub fn descriptor_pool() -> &'static DescriptorPool {
    pool()
}

/// `message` as a JSON value, every field present, enums by name.
pub fn to_json<M: prost::Message + prost::Name>(message: &M) -> serde_json::Value {
    let descriptor = pool()
        .get_message_by_name(&M::full_name())
        .expect("every cppcc message is in the descriptor set");
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("a message decodes as its own type");
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .expect("serializing to a JSON value cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cppcc_proto::common::v1::Date;

    #[test]
    fn messages_become_json() {
        let json = to_json(&Date {
            year: 2023,
            month: 11,
            day: 13,
        });
        assert_eq!(
            json,
            serde_json::json!({"year": 2023, "month": 11, "day": 13})
        );
        let json = to_json(&Date {
            year: 2023,
            month: 0,
            day: 0,
        });
        assert_eq!(json["month"], 0);
    }
}
