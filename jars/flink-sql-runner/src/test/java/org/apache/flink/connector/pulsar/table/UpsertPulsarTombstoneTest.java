package org.apache.flink.connector.pulsar.table;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.GenericTypeInfo;
import org.apache.flink.connector.pulsar.sink.writer.message.PulsarMessage;
import org.apache.flink.connector.pulsar.table.sink.PulsarTableSerializationSchema;
import org.apache.flink.connector.pulsar.table.sink.PulsarWritableMetadata;
import org.apache.flink.connector.pulsar.table.source.PulsarReadableMetadata;
import org.apache.flink.connector.pulsar.table.source.PulsarRowDataConverter;
import org.apache.flink.connector.pulsar.table.source.PulsarTableDeserializationSchema;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.VarCharType;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.Collector;

import org.apache.pulsar.client.api.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * The runner's patched copies of the Pulsar connector's table (de)serialization classes (see
 * jars/README.md): an upsert-pulsar table of {@code (uid STRING, color STRING)} keyed by uid,
 * with a raw-like key and a value holding color only.
 */
class UpsertPulsarTombstoneTest {

    private static final RowData.FieldGetter UID = RowData.createFieldGetter(new VarCharType(), 0);
    private static final RowData.FieldGetter COLOR = RowData.createFieldGetter(new VarCharType(), 1);

    private static PulsarTableSerializationSchema sinkSchema() {
        SerializationSchema<RowData> string = row -> row.getString(0).toBytes();
        return new PulsarTableSerializationSchema(
                string,
                new RowData.FieldGetter[] {UID},
                string,
                new RowData.FieldGetter[] {COLOR},
                new PulsarWritableMetadata(List.of(), 2),
                true);
    }

    private static GenericRowData row(RowKind kind, String uid, String color) {
        return GenericRowData.ofKind(kind, StringData.fromString(uid), StringData.fromString(color));
    }

    @ParameterizedTest
    @EnumSource(value = RowKind.class, names = {"DELETE", "UPDATE_BEFORE"})
    void retractionsBecomeNullValueTombstonesWithTheirKey(RowKind kind) {
        // 4.1.0 threw NullPointerException("Message should be provided.") here.
        PulsarMessage<?> message = sinkSchema().serialize(row(kind, "103", "red"), null);

        assertNull(message.getValue());
        assertNull(message.getSchema()); // the writer falls back to the topic's bytes schema
        assertEquals("103", new String(Base64.getDecoder().decode(message.getKey()), StandardCharsets.UTF_8));
    }

    @ParameterizedTest
    @EnumSource(value = RowKind.class, names = {"INSERT", "UPDATE_AFTER"})
    void upsertsKeepTheirValue(RowKind kind) {
        PulsarMessage<?> message = sinkSchema().serialize(row(kind, "103", "blue"), null);

        assertArrayEquals("blue".getBytes(StandardCharsets.UTF_8), (byte[]) message.getValue());
        assertEquals("103", new String(Base64.getDecoder().decode(message.getKey()), StandardCharsets.UTF_8));
    }

    /** A one-column STRING row per message, from its UTF-8 bytes. */
    private static final class StringRows implements DeserializationSchema<RowData> {
        @Override
        public RowData deserialize(byte[] bytes) {
            return GenericRowData.of(StringData.fromBytes(bytes));
        }

        @Override
        public boolean isEndOfStream(RowData next) {
            return false;
        }

        @Override
        public TypeInformation<RowData> getProducedType() {
            return new GenericTypeInfo<>(RowData.class);
        }
    }

    @SuppressWarnings("unchecked")
    private static Message<byte[]> message(String key, byte[] data) {
        Map<String, Object> answers = new java.util.HashMap<>();
        answers.put("getKeyBytes", key.getBytes(StandardCharsets.UTF_8));
        answers.put("getKey", key);
        answers.put("hasKey", true);
        answers.put("getData", data);
        answers.put("getValue", data);
        return (Message<byte[]>) Proxy.newProxyInstance(
                Message.class.getClassLoader(),
                new Class<?>[] {Message.class},
                (proxy, method, args) -> {
                    if (!answers.containsKey(method.getName())) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    return answers.get(method.getName());
                });
    }

    private static List<RowData> read(Message<byte[]> message) throws Exception {
        PulsarTableDeserializationSchema schema = new PulsarTableDeserializationSchema(
                new StringRows(),
                new StringRows(),
                new GenericTypeInfo<>(RowData.class),
                new PulsarRowDataConverter(2, new int[] {0}, new int[] {1}, new PulsarReadableMetadata(List.of()), true),
                true);
        List<RowData> rows = new ArrayList<>();
        schema.deserialize(message, new Collector<>() {
            @Override
            public void collect(RowData record) {
                rows.add(record);
            }

            @Override
            public void close() {}
        });
        return rows;
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void tombstonesAreReadAsDeletesOfTheirKey(boolean nullValue) throws Exception {
        // 4.1.0: NullPointerException in PulsarRowDataConverter.emitRow for an empty payload, and
        // in PulsarTableDeserializationSchema.deserialize for a null value (what the sink writes).
        List<RowData> rows = read(message("103", nullValue ? null : new byte[0]));

        assertEquals(1, rows.size());
        RowData delete = rows.get(0);
        assertEquals(RowKind.DELETE, delete.getRowKind());
        assertEquals("103", delete.getString(0).toString());
        assertEquals(true, delete.isNullAt(1));
    }

    @Test
    void valuesAreReadAsInsertsWithTheirKey() throws Exception {
        List<RowData> rows = read(message("103", "blue".getBytes(StandardCharsets.UTF_8)));

        assertEquals(1, rows.size());
        assertEquals(RowKind.INSERT, rows.get(0).getRowKind());
        assertEquals("103", rows.get(0).getString(0).toString());
        assertEquals("blue", rows.get(0).getString(1).toString());
    }
}
