from cartwright.kit.errors import AppError


class SkuTaken(AppError):
    status = 409
    code = "sku_taken"
    title = "The SKU is already used by another variant"
