/* SPDX-License-Identifier: BSD-3-Clause */
/* UEFI boot: a GNU-EFI application that gathers what the runtime needs while
 * boot services exist (memory map, ACPI RSDP, load options), exits boot
 * services and enters the same runtime as the direct path. The runtime is
 * linked into this image (everything is -fPIC), so there is no second loader.
 * Uses no libefi: only the system table and crt0's self-relocation. */
#include <efi.h>
#include <string.h>

#include "boot_info.h"
#include "fw_cfg.h"

static struct boot_info efi_boot_info;
/* Static, so fetching the map does not itself change the map. */
static uint8_t memory_map[64 * 1024] __attribute__((aligned(8)));

static const EFI_GUID loaded_image_guid = LOADED_IMAGE_PROTOCOL;
static const EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static const EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

/* Load options are UTF-16 text when a shell or a Boot#### entry with
 * arguments started us; OVMF's auto-created removable-media entries carry a
 * binary GUID instead. Keep them only if they are printable ASCII. */
static void copy_load_options(struct boot_info *info, const CHAR16 *options, UINT32 bytes)
{
    size_t chars = bytes / sizeof(CHAR16), n = 0;
    if (!options || chars == 0)
        return;
    for (size_t i = 0; i < chars && options[i]; i++)
        if (options[i] < 0x20 || options[i] > 0x7E)
            return;
    for (size_t i = 0; i < chars && options[i] && n < BOOT_CMDLINE_MAX - 1; i++)
        info->cmdline[n++] = (char)options[i];
    info->cmdline[n] = '\0';
    /* The shell passes the program name first ("BOOTX64.EFI key=value"). */
    char *first_end = strchr(info->cmdline, ' ');
    size_t first_len = first_end ? (size_t)(first_end - info->cmdline) : n;
    if (first_len >= 4 && strncasecmp(info->cmdline + first_len - 4, ".efi", 4) == 0) {
        const char *rest = info->cmdline + first_len;
        while (*rest == ' ')
            rest++;
        memmove(info->cmdline, rest, strlen(rest) + 1);
    }
}

static uint32_t boot_type_of(UINT32 efi_type)
{
    switch (efi_type) {
    case EfiConventionalMemory:
    case EfiBootServicesCode: /* free once boot services are gone; the runtime */
    case EfiBootServicesData: /* leaves the firmware's stack and tables first */
        return BOOT_MEM_USABLE;
    case EfiACPIReclaimMemory:
        return BOOT_MEM_ACPI_RECLAIM;
    case EfiACPIMemoryNVS:
        return BOOT_MEM_ACPI_NVS;
    case EfiUnusableMemory:
        return BOOT_MEM_BAD;
    default: /* loader (this image), runtime services, MMIO, ... */
        return BOOT_MEM_RESERVED;
    }
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table);

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
    EFI_BOOT_SERVICES *bs = system_table->BootServices;
    struct boot_info *info = &efi_boot_info;
    info->boot_path = "uefi";

    EFI_LOADED_IMAGE *loaded_image = NULL;
    if (bs->HandleProtocol(image, (EFI_GUID *)&loaded_image_guid, (void **)&loaded_image) ==
            EFI_SUCCESS &&
        loaded_image) {
        copy_load_options(info, loaded_image->LoadOptions, loaded_image->LoadOptionsSize);
        info->image_start = (uint64_t)(uintptr_t)loaded_image->ImageBase;
        info->image_end = info->image_start + loaded_image->ImageSize;
    }
    if (!info->cmdline[0])
        fw_cfg_read_cmdline(info->cmdline, sizeof(info->cmdline));

    for (UINTN i = 0; i < system_table->NumberOfTableEntries; i++) {
        const EFI_CONFIGURATION_TABLE *t = &system_table->ConfigurationTable[i];
        if (memcmp(&t->VendorGuid, &acpi20_guid, sizeof(EFI_GUID)) == 0)
            info->rsdp_address = (uint64_t)(uintptr_t)t->VendorTable;
        else if (!info->rsdp_address && memcmp(&t->VendorGuid, &acpi10_guid, sizeof(EFI_GUID)) == 0)
            info->rsdp_address = (uint64_t)(uintptr_t)t->VendorTable;
    }

    /* ExitBootServices fails when the map changed since GetMemoryMap (an
     * event may allocate in between): fetch again and retry. */
    UINTN map_size, map_key = 0, descriptor_size = 0;
    UINT32 descriptor_version;
    EFI_STATUS status = EFI_LOAD_ERROR;
    for (int attempt = 0; attempt < 8 && status != EFI_SUCCESS; attempt++) {
        map_size = sizeof(memory_map);
        status = bs->GetMemoryMap(&map_size, (EFI_MEMORY_DESCRIPTOR *)memory_map, &map_key,
                                  &descriptor_size, &descriptor_version);
        if (status != EFI_SUCCESS)
            return status;
        status = bs->ExitBootServices(image, map_key);
    }
    if (status != EFI_SUCCESS)
        return status;
    __asm__ volatile("cli");

    for (UINTN at = 0; at + descriptor_size <= map_size; at += descriptor_size) {
        const EFI_MEMORY_DESCRIPTOR *d = (const void *)(memory_map + at);
        boot_info_add_range(info, d->PhysicalStart, d->NumberOfPages * 4096, boot_type_of(d->Type));
    }
    rt_start(info);
}
