package dev.flinkit.registry;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.List;
import javax.enterprise.context.ApplicationScoped;
import javax.enterprise.inject.Produces;

/**
 * Stands in for Apicurio's {@code config-index} Quarkus extension, whose build-time half is not
 * on Maven Central: that extension lists the properties an administrator may change at run time
 * (the registry's dynamic configuration API). The stack's registry is configured once, at
 * start, so the list is empty; everything else in the registry is Apicurio's own code.
 */
@ApplicationScoped
public class DynamicPropertiesProducer {

    /** No property is changeable at run time. */
    @Produces
    @ApplicationScoped
    public DynamicConfigPropertyList dynamicProperties() {
        return new DynamicConfigPropertyList(List.of());
    }
}
